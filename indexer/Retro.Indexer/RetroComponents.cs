using System.Text.Json;
using Retro.Core;
using Retro.Core.Options;
using Retro.Engine.Cpu;
using Retro.Engine.Models;
using Retro.Hosting;
using Retro.Indexer.Cli;
using Retro.Tokenizers;
using Retro.VectorStore;
using Retro.VectorStore.Qdrant;

namespace Retro.Indexer;

/// <summary>
/// The product's implementations: the decoder's HF <c>tokenizer.json</c>, the bi-encoder on the managed engine's CPU backend, and
/// the embedded or Qdrant store. Owns what it loads; dispose at exit.
/// </summary>
public sealed class RetroComponents : IIndexerComponents, IDisposable
{
    private readonly List<IDisposable> _owned = [];

    /// <summary>Threads of the CPU backend (0 = one per core).</summary>
    public int EncoderThreads { get; init; }

    /// <summary>
    /// Threads inserting an upsert into the embedded store's graph. Default 1: the indexer overlaps upserts with
    /// embedding, and more threads would take cores from the bi-encoder.
    /// </summary>
    public int StoreBuildThreads { get; init; } = 1;

    /// <summary>Sequences per bi-encoder pass.</summary>
    public int EncoderBatch { get; init; } = 32;

    public ITokenizer LoadDecoderTokenizer(string folder) => TokenizerLoader.FromFolder(folder);

    public ITextEncoder LoadEncoder(string folder)
    {
        var engine = new ManagedEngine(new CpuBackend(EncoderThreads));
        try
        {
            var encoder = engine.LoadEncoder(folder, EncoderBatch);
            _owned.Add(engine);
            if (encoder is IDisposable owned) _owned.Add(owned);
            return encoder;
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    public int EncoderDimension(string folder)
    {
        string path = Path.Combine(folder, "config.json");
        if (!File.Exists(path)) throw new OptionsException($"Encoder config '{Path.GetFullPath(path)}' not found; pass --encoder DIR.");
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        return json.RootElement.TryGetProperty("hidden_size", out var h) && h.TryGetInt32(out int d) && d > 0
            ? d
            : throw new OptionsException($"Encoder config '{path}' has no positive hidden_size.");
    }

    public IVectorStore OpenStore(VectorStoreOptions options, QdrantOptions qdrant) =>
        VectorStores.Open(options, qdrant, new EmbeddedStoreOptions { BuildThreads = StoreBuildThreads });

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        _owned.Clear();
    }
}
