using System.Text.Json;
using Retro.Core;
using Retro.Core.Options;
using Retro.Eval.Data;
using Retro.Hosting;
using Retro.Ingestion;
using Retro.Ingestion.Pipeline;
using Retro.Ingestion.Reading;
using Retro.VectorStore;

namespace Retro.Eval.Running;

/// <summary>
/// Builds a dataset's index through the ingestion library (<see cref="Ingestor"/>): the documents are written as a C4-style shard (url = the
/// document id, so store document ids are the dataset's ids), chunked with the decoder's tokenizer, embedded and
/// upserted into an embedded store under <c>{output}/stores/{hash}</c> or a Qdrant collection
/// <c>eval-{hash}</c> (hash of the documents, the encoder id and the decoder's tokenizer). A <c>complete.json</c> marker makes a rerun reuse the index; an interrupted build resumes
/// from the indexer's checkpoints.
/// </summary>
internal static class IndexBuilder
{
    /// <summary>Bumped when what an index holds changes for the same documents (2: titles, no junk chunks).</summary>
    private const string IndexFormat = "2";

    /// <summary>Opens (building when needed) the index of <paramref name="documents"/>.</summary>
    public static async Task<IVectorStore> BuildAsync(string name, IReadOnlyList<EvalDocument> documents, EvalConfig config, EvalModelSet models,
        IProgress<string> progress, CancellationToken ct)
    {
        var shardText = new System.Text.StringBuilder();
        foreach (var d in documents)
            shardText.Append(JsonSerializer.Serialize(new { text = d.Text, url = d.Id })).Append('\n');
        string content = shardText.ToString();
        // the chunks depend on the decoder's tokenizer, not on its weights: a new decoder with the same tokenizer reuses the index
        string hash = Datasets.ShortHash(content + "\n" + models.Ids["encoder"] + "\n" + models.TokenizerId + "\n" + IndexFormat);
        string folder = Path.Combine(config.IndexFolder, hash); // same documents, same index (QA and retrieval over one SQuAD file share it)
        string stateFolder = Path.Combine(folder, "ingest");
        Directory.CreateDirectory(stateFolder);
        string marker = Path.Combine(stateFolder, "complete.json");

        var storeOptions = config.Store.Options(Path.Combine(folder, "store"), $"eval-{hash}");
        var store = VectorStores.Open(storeOptions, config.Store.QdrantOptions, new EmbeddedStoreOptions { BuildThreads = 1 });
        try
        {
            await store.EnsureCollectionAsync(storeOptions.ToSpec(models.Encoder.Dimension), ct);
            if (File.Exists(marker)) { progress.Report($"index {name}: reused {folder}"); return store; }

            string shardPath = Path.Combine(stateFolder, "documents.jsonl");
            if (!File.Exists(shardPath) || File.ReadAllText(shardPath) != content) File.WriteAllText(shardPath, content);
            var chunking = new ChunkingOptions
            {
                ChunkTokens = models.Decoder.Config.ChunkSize,
                ContinuationTokens = models.Decoder.Config.NeighbourLen - models.Decoder.Config.ChunkSize,
            };
            using var ingestor = new Ingestor(store, models.Encoder, models.Tokenizer, chunking, stateFolder, new IngestOptions { Parallelism = 1 });
            var stats = await ingestor.RunAsync([Shard.For(shardPath)],
                s => progress.Report($"index {name}: {s.Documents}/{documents.Count} documents, {s.Chunks} chunks"), cancellationToken: ct);
            File.WriteAllText(marker, JsonSerializer.Serialize(new { documents = stats.Documents, chunks = stats.Chunks, duplicates = stats.Duplicates }));
            progress.Report($"index {name}: {stats.Documents} documents, {stats.Chunks} chunks");
            return store;
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    /// <summary>Opens the configured collection store (for <c>scope = collection</c>).</summary>
    public static async Task<IVectorStore> OpenCollectionAsync(EvalConfig config, EvalModelSet models, CancellationToken ct)
    {
        var options = config.Store.Options(
            config.Store.Path ?? throw new InvalidDataException("store.path is required for scope 'collection' with the embedded store"), config.Store.Collection);
        var store = VectorStores.Open(options, config.Store.QdrantOptions);
        await store.EnsureCollectionAsync(options.ToSpec(models.Encoder.Dimension), ct);
        return store;
    }
}
