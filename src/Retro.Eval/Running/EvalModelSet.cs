using Retro.Core;
using Retro.Core.Options;
using Retro.Engine.Cpu;
using Retro.Engine.Generation;
using Retro.Engine.Models;
using Retro.Engine.Retro;

namespace Retro.Eval.Running;

/// <summary>
/// The models of a run (<see cref="RetroModels"/> on the managed engine's CPU backend) and what the tasks read from
/// them: the engine's decoder for full forward passes, its tokenizer, a generator, and the ids that key the caches.
/// </summary>
internal sealed class EvalModelSet : IDisposable
{
    private readonly RetroModels _models;

    public ITextEncoder Encoder => _models.Encoder;
    public IReranker? Reranker => _models.Reranker;
    public RetroDecoder Decoder { get; }
    public ITokenizer Tokenizer => _models.Decoder.Tokenizer;
    public RetroGenerator Generator { get; }
    /// <summary>Hash of the decoder's tokenizer.json: what an index depends on (its chunks), unlike the decoder's weights.</summary>
    public string TokenizerId { get; }
    /// <summary>Folder name plus weights hash of each model (keys the cache; recorded in results.json).</summary>
    public IReadOnlyDictionary<string, string> Ids { get; }

    public EvalModelSet(EvalModels models, int threads, int maxNeighbours)
    {
        var folders = new ModelOptions { Encoder = models.Encoder, Reranker = models.Reranker, Decoder = models.Decoder };
        // Sessions hold the run's largest k (the generator never passes more neighbours than retrieval returns).
        _models = RetroModels.Load(folders, new ManagedEngine(new CpuBackend(threads)), maxNeighbours: maxNeighbours);
        try
        {
            var adapter = (RetroDecoderAdapter)_models.Decoder;
            Decoder = adapter.Decoder;
            TokenizerId = Data.Datasets.ShortHash(File.ReadAllText(Path.Combine(models.Decoder, "tokenizer.json")));
            // Sequential retrieval keeps timings per stage honest and the run deterministic.
            Generator = new RetroGenerator(adapter) { OverlapPromptRetrieval = false };
            var ids = new Dictionary<string, string> { ["encoder"] = Encoder.ModelId };
            if (Reranker is not null) ids["reranker"] = Reranker.ModelId;
            ids["decoder"] = adapter.ModelId;
            Ids = ids;
        }
        catch
        {
            _models.Dispose();
            throw;
        }
    }

    public void Dispose() => _models.Dispose();
}
