using Retro.Core;
using Retro.Eval.Data;
using Retro.Eval.Running;
using Retro.VectorStore.Qdrant.StandIn;

namespace Retro.Eval.Tests;

/// <summary>Index builds go through the one store factory: a config's <c>store.qdrant</c> section reaches Qdrant.</summary>
public sealed class IndexBuilderTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"retro-eval-index-{Guid.NewGuid():N}");
    public void Dispose() { try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } }

    private static string Fixture(string name)
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Retro.sln"))) root = Path.GetDirectoryName(root)!;
        return Path.Combine(root, "tests", "fixtures", name);
    }

    private string Config(string store)
    {
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, $$"""
            {
              "output": "out",
              "models": { "encoder": "{{Fixture("bert-tiny")}}", "decoder": "{{Fixture("retro-tiny")}}" },
              "store": {{store}},
              "modes": ["closed-book", "retrieval"],
              "retrieval": [{ "name": "r", "format": "squad", "path": "none.json" }]
            }
            """);
        return path;
    }

    [Fact]
    public async Task A_qdrant_index_is_built_through_the_section_of_the_config()
    {
        // The url's port is wrong on purpose: only store.qdrant.grpcPort reaches the stand-in.
        await using var qdrant = await QdrantStandIn.StartAsync();
        var config = EvalConfig.Load(Config($$"""{ "provider": "Qdrant", "qdrantUrl": "http://127.0.0.1:1", "qdrant": { "grpcPort": {{qdrant.Url.Port}}, "upsertBatchSize": 1 } }"""));
        config.Validate();
        using var models = new EvalModelSet(config.Models, threads: 1, maxNeighbours: 2);
        EvalDocument[] documents = [new("a", "The river flows past the old mill and the bakers rise early."), new("b", "Compilers translate programs into machine code.")];
        await using var store = await IndexBuilder.BuildAsync("r", documents, config, models, new Progress<string>(), CancellationToken.None);
        qdrant.CollectionNames.ShouldContain(c => c.StartsWith("eval-", StringComparison.Ordinal) && !c.EndsWith("__checkpoints", StringComparison.Ordinal));
        (await store.CountAsync()).ShouldBe(2);
        // One point per request, as the section says (the default sends both in one).
        qdrant.Calls.Count(c => c.Method == "/qdrant.Points/Upsert"
            && System.Text.RegularExpressions.Regex.IsMatch(c.RequestJson, "\"collectionName\":\\s*\"eval-[0-9a-f]+\"")).ShouldBe(2);
    }

    [Fact]
    public void A_bad_qdrant_section_is_refused_when_the_config_is_checked()
    {
        var config = EvalConfig.Load(Config("""{ "provider": "Qdrant", "qdrant": { "grpcPort": 70000 } }"""));
        Should.Throw<InvalidDataException>(() => config.Validate()).Message.ShouldContain("store.qdrant");
    }
}
