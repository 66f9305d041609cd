using Retro.Core;
using Retro.Engine.Bert;
using Retro.Engine.Checkpoints;
using Retro.Engine.Cpu;
using Retro.Engine.Generation;
using Retro.Engine.Retro;
using Retro.Tokenizers;

namespace Retro.Eval.Running;

/// <summary>The models of a run on one CPU backend: bi-encoder, optional cross-encoder, RETRO decoder. Owns them.</summary>
internal sealed class EvalModelSet : IDisposable
{
    readonly CpuBackend _backend;
    readonly List<IDisposable> _owned = [];

    public ITextEncoder Encoder { get; }
    public IReranker? Reranker { get; }
    public RetroDecoder Decoder { get; }
    public Tokenizer Tokenizer { get; }
    public RetroGenerator Generator { get; }
    /// <summary>Hash of the decoder's tokenizer.json: what an index depends on (its chunks), unlike the decoder's weights.</summary>
    public string TokenizerId { get; }
    /// <summary>Folder name plus weights hash of each model (keys the cache; recorded in results.json).</summary>
    public IReadOnlyDictionary<string, string> Ids { get; }

    public EvalModelSet(EvalModels models, int threads, int maxNeighbours)
    {
        _backend = new CpuBackend(threads);
        try
        {
            var ids = new Dictionary<string, string>();
            var encoder = BertTextEncoder.Load(models.Encoder, _backend);
            _owned.Add(encoder);
            Encoder = encoder;
            ids["encoder"] = encoder.ModelId;
            if (!string.IsNullOrEmpty(models.Reranker))
            {
                var reranker = BertReranker.Load(models.Reranker, _backend);
                _owned.Add(reranker);
                Reranker = reranker;
                ids["reranker"] = reranker.ModelId;
            }
            string decoderId;
            using (var folder = ModelFolder.Open(models.Decoder, "retro")) decoderId = folder.ComputeModelId();
            ids["decoder"] = decoderId;
            Tokenizer = TokenizerLoader.FromFolder(models.Decoder);
            TokenizerId = Data.Datasets.ShortHash(File.ReadAllText(Path.Combine(models.Decoder, "tokenizer.json")));
            Decoder = RetroDecoder.Load(models.Decoder, _backend);
            _owned.Add(Decoder);
            var adapter = new RetroDecoderAdapter(Decoder, Tokenizer, decoderId, Math.Max(maxNeighbours, Decoder.Config.NumNeighbours), ownsDecoder: false);
            // Sequential retrieval keeps timings per stage honest and the run deterministic.
            Generator = new RetroGenerator(adapter) { OverlapPromptRetrieval = false };
            Ids = ids;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        _owned.Clear();
        _backend.Dispose();
    }
}
