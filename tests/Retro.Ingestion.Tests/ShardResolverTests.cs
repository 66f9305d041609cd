using Retro.Ingestion.Reading;

namespace Retro.Ingestion.Tests;

public sealed class ShardResolverTests : FolderTests
{
    [Fact]
    public void Folders_globs_and_files_expand_to_sorted_unique_shards()
    {
        string a = TestFiles.WriteLines(Dir["in/b/a.jsonl"], ["{}"]);
        string b = TestFiles.WriteLines(Dir["in/c.json.gz"], ["{}"], gzip: true);
        TestFiles.WriteLines(Dir["in/notes.txt"], ["x"]);
        Directory.CreateDirectory(Dir["in/dir.jsonl"]);
        TestFiles.WriteLines(Dir["in/dir.jsonl/inner.jsonl"], ["{}"]);
        string missing = Dir["missing.jsonl"];

        var shards = ShardResolver.Resolve([Dir["in"], Dir["in/*.gz"], a, missing]);
        shards.Select(s => s.Path).ShouldBe(new[] { a, b, Dir["in/dir.jsonl"], missing }.Order(StringComparer.Ordinal));
        shards.First(s => s.Path == a).Key.ShouldStartWith(a + "|");
        shards.First(s => s.Path == missing).Length.ShouldBe(0);
    }

    [Fact]
    public void Recursive_globs_match_below_the_root()
    {
        string deep = TestFiles.WriteLines(Dir["x/y/z/s.jsonl"], ["{}"]);
        ShardResolver.Resolve([Dir["x/**/*.jsonl"]]).Single().Path.ShouldBe(deep);
    }
}
