using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Retro.Core;
using Retro.Core.Options;
using Retro.VectorStore.Qdrant;

namespace Retro.Indexer.Cli;

/// <summary>The command line: <c>ingest</c>, <c>stats</c>, <c>verify</c> with shared store options.</summary>
public sealed class IndexerCli
{
    private readonly IIndexerComponents _components;
    private readonly TextWriter _out;

    // Shared by every command.
    private readonly Option<string?> _store = new("--store") { Description = "Vector store: embedded | qdrant (default Retro:VectorStore:Provider)." };
    private readonly Option<string?> _storePath = new("--store-path") { Description = "Folder of the embedded store (default Retro:VectorStore:Path)." };
    private readonly Option<string?> _qdrantUrl = new("--qdrant-url") { Description = "Qdrant base url, e.g. http://localhost:6333 (default Retro:VectorStore:QdrantUrl)." };
    private readonly Option<string?> _collection = new("--collection") { Description = "Collection name (default Retro:VectorStore:Collection)." };
    private readonly Option<string?> _state = new("--state") { Description = "Folder of the indexer's state (document hashes; checkpoints when the store keeps none); default <store-path>/<collection>/indexer, or data/indexer/<collection> for Qdrant." };
    private readonly Option<string?> _encoder = new("--encoder") { Description = "Bi-encoder model folder (default Retro:Models:Encoder)." };

    // ingest only.
    private readonly Argument<string[]> _inputs = new("inputs") { Description = "Shards to ingest: files (.json, .jsonl, optionally gzip), folders (searched recursively) or glob patterns.", Arity = ArgumentArity.OneOrMore };
    private readonly Option<string?> _decoderTokenizer = new("--decoder-tokenizer") { Description = "Folder with the decoder's tokenizer.json; chunks are counted in its tokens (default Retro:Models:Decoder)." };
    private readonly Option<int?> _batch = new("--batch") { Description = "Chunks per bi-encoder batch and store upsert (default 32)." };
    private readonly Option<int?> _parallelism = new("--parallelism") { Description = "Tokenization workers (default: one per two cores; the bi-encoder itself uses every core)." };
    private readonly Option<int?> _embedConcurrency = new("--embed-concurrency") { Description = "Concurrent bi-encoder batches (default 1; the encoder is itself parallel)." };
    private readonly Option<int?> _maxDocBytes = new("--max-doc-bytes") { Description = "Longest accepted record in bytes; longer ones are rejected as too-large (default 8 MiB)." };
    private readonly Option<string?> _rejects = new("--rejects") { Description = "JSON lines file receiving rejected records (shard, line, offset, reason, snippet); default <state>/rejects.jsonl." };
    private readonly Option<string> _progress = new("--progress") { Description = "Progress display: auto (live on a terminal, log lines otherwise) | live | log | none.", DefaultValueFactory = _ => "auto" };
    private readonly Option<bool> _skipVectors = new("--skip-vectors") { Description = "verify: check payloads and counts only, without re-embedding every chunk." };
    private readonly Option<double> _logInterval = new("--log-interval") { Description = "Seconds between progress log lines (default 10; fractions allowed, at least 0.01).", DefaultValueFactory = _ => 10 };

    /// <summary>Creates the command line over <paramref name="components"/>, writing reports to <paramref name="output"/>.</summary>
    public IndexerCli(IIndexerComponents components, TextWriter? output = null)
    {
        _components = components ?? throw new ArgumentNullException(nameof(components));
        _out = output ?? Console.Out;
        _progress.AcceptOnlyFromAmong("auto", "live", "log", "none");
        _store.AcceptOnlyFromAmong("embedded", "qdrant", "Embedded", "Qdrant");
    }

    /// <summary>Parses and runs <paramref name="args"/>; returns an exit code from <see cref="ExitCodes"/>.</summary>
    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        var root = Build();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors) Console.Error.WriteLine(error.Message);
            Console.Error.WriteLine("Run with --help for usage.");
            return ExitCodes.Usage;
        }
        return await parsed.InvokeAsync(new InvocationConfiguration { Output = _out }, cancellationToken).ConfigureAwait(false);
    }

    private RootCommand Build()
    {
        var root = new RootCommand("Retro indexer: C4-style JSON lines -> RETRO chunks (64 decoder tokens + 64-token continuation) -> "
            + "bi-encoder embeddings -> vector store. Resumable and idempotent. Defaults come from appsettings.json (Retro:* sections) "
            + "and environment variables such as Retro__VectorStore__Path. " + ExitCodes.Help);

        var ingest = new Command("ingest", "Ingest shards: bad records are quarantined to the rejects file, duplicates skipped; "
            + "a rerun resumes from per-shard checkpoints. " + ExitCodes.Help);
        foreach (var o in new Option[] { _store, _storePath, _qdrantUrl, _collection, _state, _encoder, _decoderTokenizer, _batch, _parallelism, _embedConcurrency, _maxDocBytes, _rejects, _progress, _logInterval })
            ingest.Options.Add(o);
        ingest.Arguments.Add(_inputs);
        ingest.SetAction((parse, ct) => Guard(() => new IngestCommand(this, parse, _out).RunAsync(ct)));

        var stats = new Command("stats", "Show documents, chunks, checkpoints and store size on disk. " + ExitCodes.Help);
        var verify = new Command("verify", "Check that every stored chunk's payload is readable and consistent and its vector is "
            + "found by a search with its own re-embedded text; counts problems (exit code 4 when any). " + ExitCodes.Help);
        foreach (var command in new[] { stats, verify })
        {
            foreach (var o in new Option[] { _store, _storePath, _qdrantUrl, _collection, _state, _encoder }) command.Options.Add(o);
        }
        verify.Options.Add(_skipVectors);
        stats.SetAction((parse, ct) => Guard(() => new StatsCommand(this, parse, _out).RunAsync(ct)));
        verify.SetAction((parse, ct) => Guard(() => new VerifyCommand(this, parse, _out).RunAsync(ct)));

        root.Subcommands.Add(ingest);
        root.Subcommands.Add(stats);
        root.Subcommands.Add(verify);
        return root;
    }

    private static async Task<int> Guard(Func<Task<int>> run)
    {
        try
        {
            return await run().ConfigureAwait(false);
        }
        catch (OptionsException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (Exception e) when (e is Retro.Tokenizers.TokenizerFormatException or Retro.Engine.Checkpoints.CheckpointFormatException)
        {
            Console.Error.WriteLine($"error: cannot load a model: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("interrupted: committed work is kept; rerun the same command to resume.");
            return ExitCodes.Cancelled;
        }
        catch (Exception e) when (e is VectorStoreUnavailableException or InvalidOperationException or IOException)
        {
            Console.Error.WriteLine($"store failure: {e.GetType().Name}: {e.Message}");
            return ExitCodes.StoreFailed;
        }
    }

    // ---- shared resolution -------------------------------------------------------------------------------------

    internal IIndexerComponents Components => _components;

    /// <summary>Everything the commands share, resolved from configuration and the command line.</summary>
    internal sealed record Context(IConfiguration Configuration, VectorStoreOptions Store, QdrantOptions Qdrant, ModelOptions Models, ChunkingOptions Chunking,
        string StateFolder, string EncoderFolder);

    internal Context Resolve(ParseResult parse)
    {
        var configuration = IndexerConfiguration.Build();
        var store = IndexerConfiguration.Bind<VectorStoreOptions>(configuration, VectorStoreOptions.Section);
        var qdrant = IndexerConfiguration.Bind<QdrantOptions>(configuration, QdrantOptions.Section);
        var models = IndexerConfiguration.Bind<ModelOptions>(configuration, ModelOptions.Section);
        var chunking = IndexerConfiguration.Bind<ChunkingOptions>(configuration, ChunkingOptions.Section);
        if (parse.GetValue(_store) is { } provider) store = store with { Provider = Enum.Parse<VectorStoreProvider>(provider, ignoreCase: true) };
        if (parse.GetValue(_storePath) is { } path) store = store with { Path = path };
        if (parse.GetValue(_qdrantUrl) is { } url) store = store with { QdrantUrl = url };
        if (parse.GetValue(_collection) is { } collection) store = store with { Collection = collection };
        IndexerConfiguration.Validate(store, VectorStoreOptions.Section);
        string encoder = parse.GetValue(_encoder) ?? models.Encoder;
        string state = parse.GetValue(_state) ?? Retro.Ingestion.State.IndexerState.DefaultFolder(store);
        return new Context(configuration, store, qdrant, models, chunking, Path.GetFullPath(state), encoder);
    }

    internal string DecoderTokenizerFolder(ParseResult parse, Context context) => parse.GetValue(_decoderTokenizer) ?? context.Models.Decoder;
    internal Argument<string[]> Inputs => _inputs;
    internal Option<int?> Batch => _batch;
    internal Option<int?> Parallelism => _parallelism;
    internal Option<int?> EmbedConcurrency => _embedConcurrency;
    internal Option<int?> MaxDocBytes => _maxDocBytes;
    internal Option<string?> Rejects => _rejects;
    internal Option<string> Progress => _progress;
    internal Option<double> LogInterval => _logInterval;
    internal Option<bool> SkipVectors => _skipVectors;

    /// <summary>Opens the store and its collection for an encoder of <paramref name="dimension"/>.</summary>
    internal async Task<IVectorStore> OpenStoreAsync(Context context, int dimension, CancellationToken ct)
    {
        var store = _components.OpenStore(context.Store, context.Qdrant);
        try
        {
            await store.EnsureCollectionAsync(context.Store.ToSpec(dimension), ct).ConfigureAwait(false);
            return store;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Loads a model, turning a missing or malformed file into an <see cref="OptionsException"/> (exit code 2).</summary>
    internal static T LoadModel<T>(Func<T> load, string what, string option)
    {
        try
        {
            return load();
        }
        catch (Exception e) when (e is IOException or Retro.Tokenizers.TokenizerFormatException or Retro.Engine.Checkpoints.CheckpointFormatException)
        {
            throw new OptionsException($"cannot load the {what} ({option}): {e.Message}");
        }
    }

    /// <summary>Checks a model folder exists (exit code 2 otherwise, with the option to fix it).</summary>
    internal static string RequireFolder(string folder, string what, string option)
    {
        if (!Directory.Exists(folder))
            throw new OptionsException($"{what} folder '{Path.GetFullPath(folder)}' does not exist; pass {option} DIR or set it in appsettings.json.");
        return folder;
    }
}
