using System.CommandLine;
using Retro.Core;
using Retro.Core.Options;
using Retro.Ingestion;
using Retro.Ingestion.Pipeline;
using Retro.Ingestion.Reading;

namespace Retro.Indexer.Cli;

/// <summary><c>ingest</c>: an <see cref="Ingestor"/> from the options, with progress and the final summary.</summary>
internal sealed class IngestCommand(IndexerCli cli, ParseResult parse, TextWriter output)
{
    public async Task<int> RunAsync(CancellationToken ct)
    {
        var context = cli.Resolve(parse);
        var options = new IngestOptions
        {
            BatchSize = parse.GetValue(cli.Batch) ?? 32,
            Parallelism = parse.GetValue(cli.Parallelism) ?? IngestOptions.DefaultParallelism,
            EmbedConcurrency = parse.GetValue(cli.EmbedConcurrency) ?? 1,
            MaxDocumentBytes = parse.GetValue(cli.MaxDocBytes) ?? 8 << 20,
        };
        try { options.Validate(); }
        catch (ArgumentOutOfRangeException e) { throw new OptionsException(e.Message); }

        var shards = ShardResolver.Resolve(parse.GetValue(cli.Inputs)!);
        if (shards.Count == 0)
        {
            Console.Error.WriteLine("error: no shards matched the inputs.");
            return ExitCodes.NothingIngested;
        }

        string tokenizerFolder = IndexerCli.RequireFolder(cli.DecoderTokenizerFolder(parse, context), "Decoder tokenizer", "--decoder-tokenizer");
        string encoderFolder = IndexerCli.RequireFolder(context.EncoderFolder, "Encoder", "--encoder");
        var tokenizer = IndexerCli.LoadModel(() => cli.Components.LoadDecoderTokenizer(tokenizerFolder), "decoder tokenizer", "--decoder-tokenizer");
        var encoder = IndexerCli.LoadModel(() => cli.Components.LoadEncoder(encoderFolder), "encoder", "--encoder");

        using var telemetry = IndexerTelemetry.StartFromEnvironment();
        await using var store = await cli.OpenStoreAsync(context, encoder.Dimension, ct).ConfigureAwait(false);
        using var ingestor = new Ingestor(store, encoder, tokenizer, context.Chunking, context.StateFolder, options, parse.GetValue(cli.Rejects));

        long totalBytes = shards.Sum(x => x.Length);
        output.WriteLine($"ingest: {shards.Count} shards, {totalBytes:N0} bytes -> {StoreName(context)}; encoder {encoder.ModelId} (d={encoder.Dimension}), batch {options.BatchSize}, {options.Parallelism} tokenizer workers");
        var stats = await ProgressReporter.RunAsync(ingestor, shards, parse.GetValue(cli.Progress)!,
            TimeSpan.FromSeconds(Math.Max(0.01, parse.GetValue(cli.LogInterval))), output, ct).ConfigureAwait(false);
        ProgressReporter.Summary(stats, ingestor.RejectsPath, output);

        // Non-zero only when this run met input and none of it could be ingested (all rejected).
        bool nothing = stats.Documents == 0 && stats.Duplicates == 0 && stats.ShardsSkipped == 0 && stats.Rejects > 0;
        return nothing ? ExitCodes.NothingIngested : ExitCodes.Ok;
    }

    private static string StoreName(IndexerCli.Context context) => context.Store.Provider == VectorStoreProvider.Embedded
        ? $"embedded store {Path.GetFullPath(context.Store.Path)} ({context.Store.Collection})"
        : $"Qdrant {context.Store.QdrantUrl} ({context.Store.Collection})";
}
