using Retro.Ingestion.Reading;

namespace Retro.Ingestion.Tests;

public sealed class ShardResolverTests : IDisposable
{
    private readonly TempFolder _dir = new();
    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Folders_globs_and_files_expand_to_sorted_unique_shards()
    {
        string a = TestFiles.WriteLines(_dir["in/b/a.jsonl"], ["{}"]);
        string b = TestFiles.WriteLines(_dir["in/c.json.gz"], ["{}"], gzip: true);
        TestFiles.WriteLines(_dir["in/notes.txt"], ["x"]);
        Directory.CreateDirectory(_dir["in/dir.jsonl"]);
        TestFiles.WriteLines(_dir["in/dir.jsonl/inner.jsonl"], ["{}"]);
        string missing = _dir["missing.jsonl"];

        var shards = ShardResolver.Resolve([_dir["in"], _dir["in/*.gz"], a, missing]);
        shards.Select(s => s.Path).ShouldBe(new[] { a, b, _dir["in/dir.jsonl"], missing }.Order(StringComparer.Ordinal));
        shards.First(s => s.Path == a).Key.ShouldStartWith(a + "|");
        shards.First(s => s.Path == missing).Length.ShouldBe(0);
    }

    [Fact]
    public void Recursive_globs_match_below_the_root()
    {
        string deep = TestFiles.WriteLines(_dir["x/y/z/s.jsonl"], ["{}"]);
        ShardResolver.Resolve([_dir["x/**/*.jsonl"]]).Single().Path.ShouldBe(deep);
    }
}
