using System.Globalization;
using Retro.Ingestion;
using Retro.Ingestion.Pipeline;
using Retro.Ingestion.Reading;
using Spectre.Console;

namespace Retro.Indexer.Cli;

/// <summary>Live progress (Spectre.Console on an interactive terminal) or periodic log lines, and the final summary.</summary>
internal static class ProgressReporter
{
    /// <summary>
    /// Runs <paramref name="ingestor"/> over <paramref name="shards"/> showing its progress per <paramref name="mode"/>:
    /// <c>live</c> (a Spectre.Console bar), <c>log</c> (a line every <paramref name="interval"/>), <c>none</c>, or
    /// <c>auto</c> (live on an interactive terminal, log lines otherwise). Returns the run's counters.
    /// </summary>
    public static async Task<IngestStats> RunAsync(Ingestor ingestor, IReadOnlyList<Shard> shards, string mode, TimeSpan interval, TextWriter output,
        CancellationToken cancellationToken)
    {
        bool interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && ReferenceEquals(output, Console.Out);
        if (mode == "none") return await ingestor.RunAsync(shards, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (mode == "live" || (mode == "auto" && interactive))
        {
            IngestStats? stats = null;
            long totalBytes = shards.Sum(s => s.Length);
            await AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask("ingest", maxValue: Math.Max(1, totalBytes));
                    stats = await ingestor.RunAsync(shards, s =>
                    {
                        task.Value = s.BytesRead;
                        task.Description = Line(s);
                    }, TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
                    task.Value = stats.TotalBytes;
                    task.Description = Line(stats);
                }).ConfigureAwait(false);
            return stats!;
        }
        return await ingestor.RunAsync(shards, s => output.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {Line(s)}{Eta(s)}"), interval, cancellationToken)
            .ConfigureAwait(false);
    }

    private static string Line(IngestStats s)
    {
        double seconds = Math.Max(1e-3, s.Elapsed.TotalSeconds);
        return string.Create(CultureInfo.InvariantCulture,
            $"shards {s.ShardsDone + s.ShardsSkipped}/{s.Shards} | docs {s.Documents:N0} ({s.Documents / seconds:F1}/s) | chunks {s.Chunks:N0} ({s.Chunks / seconds:F1}/s) | {Bytes(s.BytesRead)}/{Bytes(s.TotalBytes)} | dup {s.Duplicates:N0} | rejects {s.Rejects:N0}");
    }

    private static string Eta(IngestStats s)
    {
        if (s.TotalBytes <= 0 || s.BytesRead <= 0 || s.BytesRead >= s.TotalBytes) return "";
        double left = s.Elapsed.TotalSeconds * (s.TotalBytes - s.BytesRead) / s.BytesRead;
        return string.Create(CultureInfo.InvariantCulture, $" | eta {TimeSpan.FromSeconds(Math.Round(left)):c}");
    }

    private static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F2} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F1} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB"),
        _ => $"{bytes} B",
    };

    /// <summary>Writes the final table: documents, chunks, duplicates, rejects by kind, time and throughput.</summary>
    public static void Summary(IngestStats s, string? rejectsPath, TextWriter output)
    {
        double seconds = Math.Max(1e-3, s.Elapsed.TotalSeconds);
        var table = new Table().Border(TableBorder.Rounded).AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
        void Row(string name, string value) => table.AddRow(Markup.Escape(name), Markup.Escape(value));
        Row("shards read / skipped (already complete)", $"{s.ShardsDone} / {s.ShardsSkipped}");
        Row("records read", s.Records.ToString("N0", CultureInfo.InvariantCulture));
        Row("documents ingested", s.Documents.ToString("N0", CultureInfo.InvariantCulture));
        Row("chunks stored", s.Chunks.ToString("N0", CultureInfo.InvariantCulture));
        Row("chunks not indexed (too few words)", s.SkippedChunks.ToString("N0", CultureInfo.InvariantCulture));
        Row("duplicates skipped", s.Duplicates.ToString("N0", CultureInfo.InvariantCulture));
        foreach (var reason in RejectReasons.All)
        {
            if (s.RejectsOf(reason) > 0) Row($"rejected: {RejectReasons.Name(reason)}", s.RejectsOf(reason).ToString("N0", CultureInfo.InvariantCulture));
        }
        Row("rejected (total)", s.Rejects.ToString("N0", CultureInfo.InvariantCulture));
        Row("bytes read", Bytes(s.BytesRead));
        Row("time", string.Create(CultureInfo.InvariantCulture, $"{seconds:F1} s"));
        Row("throughput", string.Create(CultureInfo.InvariantCulture, $"{s.Documents / seconds:F1} docs/s, {s.Chunks / seconds:F1} chunks/s"));
        if (rejectsPath is not null && s.Rejects > 0) Row("rejects file", rejectsPath);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = ColorSystemSupport.Detect,
        });
        console.Write(table);
    }
}
