using Retro.Core;
using Retro.Core.Options;
using Retro.Core.Ranking;
using Retro.Engine.Generation;

namespace Retro.Engine.Models;

/// <summary>
/// The models of <c>Retro:Models</c> loaded together on one engine: the bi-encoder, the optional cross-encoder and the
/// RETRO decoder with its tokenizer, each identified by its folder (<c>ModelId</c>: folder name plus weights hash). The
/// service and the comparison runs load through it (the indexer, which needs only the bi-encoder, through the same
/// <see cref="IModelEngine"/>). Owns the models and the engine: disposing releases them all.
/// </summary>
public sealed class RetroModels : IDisposable
{
    private readonly IModelEngine _engine;
    private readonly List<IDisposable> _owned = [];

    private RetroModels(IModelEngine engine) => _engine = engine;

    /// <summary>The bi-encoder.</summary>
    public ITextEncoder Encoder { get; private set; } = null!;

    /// <summary>
    /// The reranker of <see cref="ModelOptions.Reranker"/>: the learned ranker when the folder holds <c>ranker.json</c>
    /// (<see cref="LexicalRanker"/>), else the cross-encoder; null when the option is empty.
    /// </summary>
    public IReranker? Reranker { get; private set; }

    /// <summary>The RETRO decoder and its tokenizer.</summary>
    public IRetroDecoder Decoder { get; private set; } = null!;

    /// <summary>
    /// Loads the folders of <paramref name="folders"/> (absolute, or relative to the current folder) on
    /// <paramref name="engine"/>, which the set then owns (disposed on failure too). <paramref name="maxNeighbours"/> and
    /// <paramref name="decoderBatch"/> go to <see cref="IModelEngine.LoadDecoder"/>.
    /// </summary>
    public static RetroModels Load(ModelOptions folders, IModelEngine engine, int? maxNeighbours = null, int decoderBatch = 1)
    {
        ArgumentNullException.ThrowIfNull(folders);
        ArgumentNullException.ThrowIfNull(engine);
        var models = new RetroModels(engine);
        try
        {
            models.Encoder = models.Own(engine.LoadEncoder(folders.Encoder));
            if (!string.IsNullOrWhiteSpace(folders.Reranker))
            {
                // a ranker folder (ranker.json) holds the learned ranker, which needs no engine; else a cross-encoder
                models.Reranker = LexicalRanker.IsRankerFolder(folders.Reranker)
                    ? LexicalRanker.Load(folders.Reranker)
                    : models.Own(engine.LoadReranker(folders.Reranker));
            }
            models.Decoder = models.Own(engine.LoadDecoder(folders.Decoder, maxNeighbours, decoderBatch));
            return models;
        }
        catch
        {
            models.Dispose();
            throw;
        }
    }

    private T Own<T>(T model)
    {
        if (model is IDisposable disposable) _owned.Add(disposable);
        return model;
    }

    /// <summary>Releases the models, newest first, then the engine.</summary>
    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        _owned.Clear();
        _engine.Dispose();
    }
}
