using Microsoft.Extensions.FileSystemGlobbing;

namespace Retro.Ingestion.Reading;

/// <summary>Turns command-line inputs (files, folders, globs) into the ordered list of shards to read.</summary>
public static class ShardResolver
{
    /// <summary>File name endings read as shards (gzip is detected by its magic bytes, not by the name).</summary>
    public static readonly string[] Extensions = [".jsonl.gz", ".json.gz", ".jsonl", ".json"];

    /// <summary>Whether <paramref name="name"/> ends with a shard extension (case-insensitive).</summary>
    public static bool IsShardName(string name)
    {
        foreach (string ext in Extensions)
        {
            if (name.EndsWith(ext, StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }

    /// <summary>
    /// Expands <paramref name="inputs"/>: a folder gives every shard below it (recursively; a sub-folder named like a
    /// shard is returned as a shard so that it is reported unreadable), a pattern with <c>*</c>/<c>?</c> gives its
    /// matches, anything else is taken as a file (a missing one is reported unreadable when read). The result is
    /// ordinal-sorted by full path and free of duplicates, so runs visit shards in the same order.
    /// </summary>
    public static IReadOnlyList<Shard> Resolve(IEnumerable<string> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var paths = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string input in inputs)
        {
            if (string.IsNullOrWhiteSpace(input)) continue;
            if (input.IndexOfAny(['*', '?']) >= 0) AddGlob(input, paths);
            else if (Directory.Exists(input) && !IsLink(input)) AddFolder(new DirectoryInfo(input), paths);
            else paths.Add(Path.GetFullPath(input));
        }
        var shards = new List<Shard>(paths.Count);
        foreach (string path in paths) shards.Add(Shard.For(path));
        return shards;
    }

    private static void AddFolder(DirectoryInfo folder, SortedSet<string> paths)
    {
        foreach (var entry in folder.EnumerateFileSystemInfos())
        {
            bool isShardName = IsShardName(entry.Name);
            if (entry is DirectoryInfo sub && entry.LinkTarget is null && !isShardName) AddFolder(sub, paths);
            else if (isShardName) paths.Add(entry.FullName);
        }
    }

    private static void AddGlob(string pattern, SortedSet<string> paths)
    {
        // Split at the first folder holding a wildcard: the part before is the root the matcher walks.
        string full = Path.GetFullPath(pattern);
        int wildcard = full.IndexOfAny(['*', '?']);
        int cut = full.LastIndexOf(Path.DirectorySeparatorChar, wildcard);
        string root = full[..Math.Max(cut, 1)];
        string relative = full[(cut + 1)..];
        if (!Directory.Exists(root)) return;
        var matcher = new Matcher(StringComparison.Ordinal);
        matcher.AddInclude(relative);
        foreach (string match in matcher.GetResultsInFullPath(root)) paths.Add(Path.GetFullPath(match));
    }

    private static bool IsLink(string path) => new DirectoryInfo(path).LinkTarget is not null;
}
