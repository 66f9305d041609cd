using System.Globalization;
using Retro.Indexer.Pipeline;
using Retro.Indexer.Reading;
using Spectre.Console;

namespace Retro.Indexer.Cli;

/// <summary>Live progress (Spectre.Console on an interactive terminal) or periodic log lines, and the final summary.</summary>
internal static class ProgressReporter
{
    /// <summary>Shows progress of <paramref name="run"/> until it ends (never throws for the run's failure).</summary>
    public static async Task ShowAsync(Task run, IngestStats stats, string mode, TimeSpan interval, TextWriter output)
    {
        bool interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && ReferenceEquals(output, Console.Out);
        if (mode == "none") { await Settle(run).ConfigureAwait(false); return; }
        if (mode == "live" || (mode == "auto" && interactive))
        {
            await AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask("ingest", maxValue: Math.Max(1, stats.TotalBytes));
                    while (!run.IsCompleted)
                    {
                        task.Value = stats.BytesRead;
                        task.Description = Line(stats);
                        await Task.WhenAny(run, Task.Delay(250)).ConfigureAwait(false);
                    }
                    task.Value = stats.TotalBytes;
                    task.Description = Line(stats);
                }).ConfigureAwait(false);
            return;
        }
        while (!run.IsCompleted)
        {
            await Task.WhenAny(run, Task.Delay(interval)).ConfigureAwait(false);
            if (!run.IsCompleted) output.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {Line(stats)}{Eta(stats)}");
        }
    }

    static async Task Settle(Task run)
    {
        try { await run.ConfigureAwait(false); } catch { /* the caller observes the failure */ }
    }

    static string Line(IngestStats s)
    {
        double seconds = Math.Max(1e-3, s.Elapsed.TotalSeconds);
        return string.Create(CultureInfo.InvariantCulture,
            $"shards {s.ShardsDone + s.ShardsSkipped}/{s.Shards} | docs {s.Documents:N0} ({s.Documents / seconds:F1}/s) | chunks {s.Chunks:N0} ({s.Chunks / seconds:F1}/s) | {Bytes(s.BytesRead)}/{Bytes(s.TotalBytes)} | dup {s.Duplicates:N0} | rejects {s.Rejects:N0}");
    }

    static string Eta(IngestStats s)
    {
        if (s.TotalBytes <= 0 || s.BytesRead <= 0 || s.BytesRead >= s.TotalBytes) return "";
        double left = s.Elapsed.TotalSeconds * (s.TotalBytes - s.BytesRead) / s.BytesRead;
        return string.Create(CultureInfo.InvariantCulture, $" | eta {TimeSpan.FromSeconds(Math.Round(left)):c}");
    }

    static string Bytes(long bytes) => bytes switch
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
