using System.CommandLine;
using System.Globalization;
using Retro.Ingestion.State;

namespace Retro.Indexer.Cli;

/// <summary><c>verify</c>: every stored chunk's payload and vector readable and consistent; exit code 4 on problems.</summary>
internal sealed class VerifyCommand(IndexerCli cli, ParseResult parse, TextWriter output)
{
    public async Task<int> RunAsync(CancellationToken ct)
    {
        var context = cli.Resolve(parse);
        string encoderFolder = IndexerCli.RequireFolder(context.EncoderFolder, "Encoder", "--encoder");
        bool vectors = !parse.GetValue(cli.SkipVectors);
        var encoder = vectors ? IndexerCli.LoadModel(() => cli.Components.LoadEncoder(encoderFolder), "encoder", "--encoder") : null;
        int dimension = encoder?.Dimension ?? cli.Components.EncoderDimension(encoderFolder);
        await using var store = await cli.OpenStoreAsync(context, dimension, ct).ConfigureAwait(false);
        using var state = new IndexerState(context.StateFolder);
        var report = await StoreVerifier.VerifyAsync(state, store, encoder, context.Chunking, ct).ConfigureAwait(false);
        foreach (string example in report.Examples) output.WriteLine($"problem: {example}");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"verify: {report.Documents:N0} documents, {report.Chunks:N0} chunks, {report.Problems:N0} problems{(vectors ? "" : " (vectors not checked)")}"));
        return report.Problems == 0 ? ExitCodes.Ok : ExitCodes.VerifyProblems;
    }
}
