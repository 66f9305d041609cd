using System.CommandLine;
using System.Globalization;
using Retro.Core;
using Retro.Core.Options;
using Retro.Ingestion.State;
using Spectre.Console;

namespace Retro.Indexer.Cli;

/// <summary><c>stats</c>: documents, chunks, checkpoints and size on disk of a store.</summary>
internal sealed class StatsCommand(IndexerCli cli, ParseResult parse, TextWriter output)
{
    public async Task<int> RunAsync(CancellationToken ct)
    {
        var context = cli.Resolve(parse);
        int dimension = cli.Components.EncoderDimension(IndexerCli.RequireFolder(context.EncoderFolder, "Encoder", "--encoder"));
        await using var store = await cli.OpenStoreAsync(context, dimension, ct).ConfigureAwait(false);
        using var state = new IndexerState(context.StateFolder);
        var checkpoints = state.CheckpointsFor(store);
        var list = await checkpoints.ListAsync(ct).ConfigureAwait(false);
        long points = await store.CountAsync(ct).ConfigureAwait(false);

        string Num(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
        var table = new Table().Border(TableBorder.Rounded).AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
        void Row(string name, string value) => table.AddRow(Markup.Escape(name), Markup.Escape(value));
        Row("store", context.Store.Provider == VectorStoreProvider.Embedded ? Path.GetFullPath(context.Store.Path) : $"{context.Store.QdrantUrl} ({context.Store.Collection})");
        Row("documents", Num(state.CountDocuments()));
        Row("chunks (points in the store)", Num(points));
        Row("chunks (recorded by the indexer)", Num(state.CountChunks()));
        Row("checkpoints (completed)", $"{list.Count} ({list.Count(c => c.Completed)})");
        Row("rejected / duplicates (all shards)", $"{Num(list.Sum(c => c.Rejected))} / {Num(list.Sum(c => c.Duplicates))}");
        Row("store size on disk", context.Store.Provider == VectorStoreProvider.Embedded ? Size(context.Store.Path) : "remote");
        Row("indexer state size on disk", Size(context.StateFolder));
        Write(table);

        if (list.Count > 0)
        {
            var shards = new Table().Border(TableBorder.Simple).AddColumn("shard").AddColumn("records").AddColumn("offset")
                .AddColumn("docs").AddColumn("chunks").AddColumn("rejected").AddColumn("dup").AddColumn("done");
            foreach (var c in list)
            {
                shards.AddRow(Markup.Escape(c.ShardKey.Split('|')[0]), Num(c.Records), Num(c.ByteOffset), Num(c.Documents), Num(c.Chunks),
                    Num(c.Rejected), Num(c.Duplicates), c.Completed ? "yes" : "no");
            }
            Write(shards);
        }
        return ExitCodes.Ok;
    }

    private void Write(Table table) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(output),
        Ansi = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected ? AnsiSupport.Detect : AnsiSupport.No,
    }).Write(table);

    internal static string Size(string folder)
    {
        if (!Directory.Exists(folder)) return "0 B";
        long bytes = 0;
        foreach (var file in new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories)) bytes += file.Length;
        return bytes >= 1 << 20
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1 << 20):F1} MiB ({bytes:N0} B)")
            : string.Create(CultureInfo.InvariantCulture, $"{bytes:N0} B");
    }
}
