using System.IO.Compression;
using System.Text;
using Retro.Core;
using Retro.Tokenizers;

namespace Retro.Ingestion.Tests;

/// <summary>Paths of the repository, a temporary folder per test, and shard writers.</summary>
/// <remarks>Test classes that write files derive from <see cref="FolderTests"/>: each test gets its own <see cref="TempFolder"/>.</remarks>
public sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "retro-indexer-tests", Guid.NewGuid().ToString("N"));
    public string this[string name] => System.IO.Path.Combine(Path, name);
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>A test class whose every test has a fresh temporary folder, <see cref="Dir"/>, deleted afterwards.</summary>
public abstract class FolderTests : IDisposable
{
    protected TempFolder Dir { get; } = new();

    public void Dispose() => Dir.Dispose();
}

internal static class TestFiles
{
    public static string RepoRoot { get; } = FindRoot();
    public static string SampleCorpus => System.IO.Path.Combine(RepoRoot, "samples", "corpus", "sample.jsonl.gz");
    public static string DecoderFixture => System.IO.Path.Combine(RepoRoot, "tests", "fixtures", "retro-tiny");
    public static string EncoderFixture => System.IO.Path.Combine(RepoRoot, "tests", "fixtures", "bert-tiny");

    /// <summary>The fixture decoder's tokenizer (retro-tiny's byte-level BPE), loaded once: chunks are counted in it.</summary>
    public static ITokenizer DecoderTokenizer => Decoder.Value;

    private static readonly Lazy<ITokenizer> Decoder = new(() => TokenizerLoader.FromFolder(DecoderFixture));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Retro.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Retro.sln not found above the test binaries.");
    }

    /// <summary>Lines <paramref name="skip"/>..<paramref name="skip"/>+<paramref name="count"/> of the shipped sample.</summary>
    public static List<string> SampleLines(int count, int skip = 0)
    {
        using var gz = new GZipStream(File.OpenRead(SampleCorpus), CompressionMode.Decompress);
        using var reader = new StreamReader(gz, Encoding.UTF8);
        var lines = new List<string>(count);
        string? line;
        while (lines.Count < count && (line = reader.ReadLine()) is not null)
        {
            if (skip-- > 0) continue;
            lines.Add(line);
        }
        return lines;
    }

    public static string WriteLines(string path, IEnumerable<string> lines, bool gzip = false)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        using var file = File.Create(path);
        using Stream target = gzip ? new GZipStream(file, CompressionLevel.Fastest) : file;
        foreach (string line in lines) target.Write(Encoding.UTF8.GetBytes(line + "\n"));
        return path;
    }

    public static string WriteBytes(string path, byte[] bytes)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public static byte[] Gzip(string text)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(Encoding.UTF8.GetBytes(text));
        return ms.ToArray();
    }
}
