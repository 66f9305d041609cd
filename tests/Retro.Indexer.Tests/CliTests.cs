using Retro.Core;
using Retro.Core.Options;
using Retro.Indexer.Cli;
using Retro.Ingestion.Tests;
using Retro.VectorStore;

namespace Retro.Indexer.Tests;

/// <summary>The command line in-process over the real stack (fixture models, embedded store).</summary>
public sealed class CliTests : FolderTests
{
    private async Task<(int Code, string Output)> Run(params string[] args)
    {
        using var components = new RetroComponents { EncoderThreads = 1 };
        var output = new StringWriter();
        int code = await new IndexerCli(components, output).RunAsync(args);
        return (code, output.ToString());
    }

    private string[] Store => ["--store-path", Dir["store"], "--encoder", TestFiles.EncoderFixture];
    private string[] Ingest(params string[] inputs) => ["ingest", .. inputs, .. Store, "--decoder-tokenizer", TestFiles.DecoderFixture, "--progress", "log"];

    [Fact]
    public async Task Help_explains_every_option_and_the_exit_codes()
    {
        var (code, help) = await Run("ingest", "--help");
        code.ShouldBe(0);
        foreach (string option in new[] { "--store", "--store-path", "--qdrant-url", "--collection", "--state", "--encoder", "--decoder-tokenizer",
                     "--batch", "--parallelism", "--embed-concurrency", "--max-doc-bytes", "--rejects", "--progress", "--log-interval" })
            help.ShouldContain(option);
        help.ShouldContain("Exit codes: 0");
        (await Run("verify", "--help")).Output.ShouldContain("--skip-vectors");
        (await Run("stats", "--help")).Output.ShouldContain("--store-path");
    }

    [Fact]
    public async Task Bad_command_lines_and_missing_models_exit_2()
    {
        (await Run("ingest", "x.jsonl", "--no-such-option")).Code.ShouldBe(ExitCodes.Usage);
        (await Run("ingest", "x.jsonl", "--store", "mongo")).Code.ShouldBe(ExitCodes.Usage);
        TestFiles.WriteLines(Dir["in.jsonl"], ["{\"text\":\"a\"}"]);
        (await Run("ingest", Dir["in.jsonl"], "--store-path", Dir["s"], "--encoder", Dir["missing"], "--decoder-tokenizer", TestFiles.DecoderFixture)).Code.ShouldBe(ExitCodes.Usage);
        (await Run([.. Ingest(Dir["in.jsonl"]), "--batch", "0"])).Code.ShouldBe(ExitCodes.Usage);
        Directory.CreateDirectory(Dir["empty"]);
        (await Run("ingest", Dir["in.jsonl"], "--store-path", Dir["s"], "--encoder", Dir["empty"], "--decoder-tokenizer", TestFiles.DecoderFixture)).Code.ShouldBe(ExitCodes.Usage);
        (await Run("ingest", Dir["in.jsonl"], "--store-path", Dir["s"], "--encoder", TestFiles.EncoderFixture, "--decoder-tokenizer", Dir["empty"])).Code.ShouldBe(ExitCodes.Usage);
        (await Run("ingest", Dir["in.jsonl"], "--collection", "no/slash", "--encoder", TestFiles.EncoderFixture, "--decoder-tokenizer", TestFiles.DecoderFixture)).Code.ShouldBe(ExitCodes.Usage);
    }

    [Fact]
    public async Task Input_that_is_all_bad_exits_1_and_no_input_exits_1()
    {
        TestFiles.WriteLines(Dir["bad.jsonl"], ["{oops", "{\"text\":7}"]);
        var (code, output) = await Run(Ingest(Dir["bad.jsonl"]));
        code.ShouldBe(ExitCodes.NothingIngested);
        output.ShouldContain("rejected: malformed-json");
        File.ReadAllLines(Path.Combine(Dir["store"], "retro", "indexer", "rejects.jsonl")).Length.ShouldBe(2);
        (await Run(Ingest(Dir["nothing/*.jsonl"]))).Code.ShouldBe(ExitCodes.NothingIngested);
    }

    [Fact]
    public async Task Ingest_twice_then_stats_and_verify_and_a_damaged_store_fails_verify()
    {
        string shard = TestFiles.WriteLines(Dir["in/a.jsonl.gz"], TestFiles.SampleLines(25), gzip: true);
        var (code, first) = await Run(Ingest(shard));
        code.ShouldBe(0, first);
        first.ShouldContain("documents ingested");
        var image = await Image();
        image.Documents.Count.ShouldBe(25);

        var (again, second) = await Run(Ingest(shard));
        again.ShouldBe(0);
        second.ShouldContain("0 / 1"); // shards read / skipped
        second.ShouldContain("chunks stored");
        var after = await Image();
        after.Documents.ShouldBe(image.Documents);
        after.Chunks.ShouldBe(image.Chunks);
        after.Points.ShouldBe(image.Points);
        image.TextHits.ShouldNotBeEmpty(); // the indexer's upserts fill the BM25 index; re-ingesting changes nothing
        after.TextHits.ShouldBe(image.TextHits);

        var (statsCode, stats) = await Run(["stats", .. Store]);
        statsCode.ShouldBe(0);
        stats.ShouldContain($"{image.Points:N0}");
        stats.ShouldContain("store size on disk");

        var (verifyCode, verify) = await Run(["verify", .. Store]);
        verifyCode.ShouldBe(0, verify);
        verify.ShouldContain($"25 documents, {image.Points:N0} chunks, 0 problems");

        await using (var store = new EmbeddedVectorStore(Dir["store"]))
        {
            await store.EnsureCollectionAsync(new VectorStoreOptions().ToSpec(32));
            (await store.DeleteDocumentAsync(image.Documents[0].Split(' ')[0])).ShouldBeGreaterThan(0);
        }
        var (damaged, report) = await Run(["verify", .. Store, "--skip-vectors"]);
        damaged.ShouldBe(ExitCodes.VerifyProblems);
        report.ShouldContain("no payload");
    }

    [Fact]
    public async Task Stats_and_verify_refuse_an_embedded_store_another_instance_has_open()
    {
        // As when the service is running on it (README: stop the service first).
        await using var open = new EmbeddedVectorStore(Dir["store"]);
        await open.EnsureCollectionAsync(new VectorStoreOptions().ToSpec(32));
        foreach (string command in new[] { "stats", "verify" })
        {
            var error = new StringWriter();
            var before = Console.Error;
            Console.SetError(error);
            try
            {
                (await Run([command, .. Store])).Code.ShouldBe(ExitCodes.StoreFailed);
            }
            finally
            {
                Console.SetError(before);
            }
            error.ToString().ShouldContain("is open in another store instance");
        }
    }

    [Fact]
    public async Task The_qdrant_section_of_the_configuration_reaches_the_store()
    {
        // The url's port is wrong on purpose: only Retro:VectorStore:Qdrant:GrpcPort reaches the stand-in.
        await using var qdrant = await Retro.VectorStore.Qdrant.StandIn.QdrantStandIn.StartAsync();
        string shard = TestFiles.WriteLines(Dir["in/a.jsonl"], TestFiles.SampleLines(5));
        string[] args = ["ingest", shard, "--store", "qdrant", "--qdrant-url", "http://127.0.0.1:1", "--collection", "indexed", "--state", Dir["state"],
            "--encoder", TestFiles.EncoderFixture, "--decoder-tokenizer", TestFiles.DecoderFixture, "--progress", "none"];
        string port = qdrant.Url.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        (await RealStack.RunAsync(Dir.Path, new Dictionary<string, string> { ["Retro__VectorStore__Qdrant__GrpcPort"] = port }, args)).ShouldBe(ExitCodes.Ok);
        qdrant.CollectionNames.ShouldContain("indexed");
        qdrant.Calls.ShouldContain(c => c.Method.EndsWith("/Upsert", StringComparison.Ordinal));
        // Validated like the other sections: a bad value is a configuration error.
        (await RealStack.RunAsync(Dir.Path, new Dictionary<string, string> { ["Retro__VectorStore__Qdrant__GrpcPort"] = "70000" }, args)).ShouldBe(ExitCodes.Usage);
    }

    private Task<StoreImage> Image() => RealStack.ImageAsync(Dir["store"]);
}
