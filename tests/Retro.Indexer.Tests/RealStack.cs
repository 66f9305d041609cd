using System.Diagnostics;
using System.Text.Json;
using Retro.Core;
using Retro.Core.Options;
using Retro.Ingestion.State;
using Retro.Ingestion.Tests;
using Retro.VectorStore;

namespace Retro.Indexer.Tests;

/// <summary>The product stack on the fixture models: retro-tiny's byte-level BPE, bert-tiny, the embedded store.</summary>
internal static class RealStack
{
    /// <summary>HNSW settings small enough for fast tests (set through the environment, as a user would).</summary>
    public static readonly Dictionary<string, string> FastStoreEnvironment = new()
    {
        ["Retro__VectorStore__M"] = "8",
        ["Retro__VectorStore__EfConstruction"] = "32",
    };

    public static CollectionSpec Spec(int dimension) => new VectorStoreOptions { M = 8, EfConstruction = 32 }.ToSpec(dimension);

    /// <summary>Runs the built indexer as a child process (as a user would) and returns it started.</summary>
    public static Process Start(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
        => Start(workingDirectory, environment, null, args);

    /// <summary>Starts the built indexer; <paramref name="started"/> completes when it reports the ingestion start.</summary>
    public static Process Start(string workingDirectory, IReadOnlyDictionary<string, string>? environment, TaskCompletionSource? started, params string[] args)
        => Start(workingDirectory, environment, started, line => line.StartsWith("ingest:", StringComparison.Ordinal), args);

    /// <summary>Starts the built indexer; <paramref name="signal"/> completes at the first output line <paramref name="when"/> accepts.</summary>
    public static Process Start(string workingDirectory, IReadOnlyDictionary<string, string>? environment, TaskCompletionSource? signal, Func<string, bool> when, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Retro.Indexer.dll"));
        foreach (string a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in FastStoreEnvironment) info.Environment[k] = v;
        if (environment is not null) foreach (var (k, v) in environment) info.Environment[k] = v;
        info.Environment["DOTNET_TieredPGO"] = "0";
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is { } line && when(line)) signal?.TrySetResult(); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Runs the indexer to completion; returns its exit code.</summary>
    public static async Task<int> RunAsync(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        using var p = Start(workingDirectory, environment, args);
        await p.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token);
        return p.ExitCode;
    }

    /// <summary>What a store holds according to its state: documents, chunk payloads (as JSON), point count, checkpoints.</summary>
    public static async Task<StoreImage> ImageAsync(string storePath, int dimension = 32)
    {
        await using var store = new EmbeddedVectorStore(storePath);
        await store.EnsureCollectionAsync(Spec(dimension));
        using var state = new IndexerState(Path.Combine(storePath, "retro", "indexer"));
        var chunks = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var documents = new List<string>();
        await foreach (var (document, stored) in StoredChunks.ReadAsync(state, store))
        {
            documents.Add($"{document.DocumentId} {Convert.ToHexString(document.TextHash)} {document.Record} {document.Chunks}");
            foreach (var c in stored) if (c is not null) chunks[c.Id.ToString()] = JsonSerializer.Serialize(c);
        }
        var checkpoints = (await store.ListAsync()).Select(c => c.ToString()).ToList();
        return new StoreImage(documents, chunks, await store.CountAsync(), checkpoints, await TextHitsAsync(store, chunks));
    }

    /// <summary>
    /// The store's BM25 index seen through queries (the first words of some chunks): every hit as "id score", sorted, so
    /// equal indexes give equal lists whatever the order points were written in.
    /// </summary>
    private static async Task<List<string>> TextHitsAsync(EmbeddedVectorStore store, SortedDictionary<string, string> chunks)
    {
        var hits = new SearchHit[10_000];
        var lines = new List<string>();
        foreach (var json in chunks.Values.Take(25))
        {
            string text = JsonDocument.Parse(json).RootElement.GetProperty("Text").GetString()!;
            string query = string.Join(' ', text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(8));
            int n = await store.SearchTextAsync(query, new SearchOptions { Limit = hits.Length }, hits);
            lines.AddRange(hits[..n].Select(h => $"{query} => {h.Id} {h.Score:F4}").Order(StringComparer.Ordinal));
        }
        return lines;
    }
}

internal sealed record StoreImage(List<string> Documents, SortedDictionary<string, string> Chunks, long Points, List<string> Checkpoints, List<string> TextHits);
