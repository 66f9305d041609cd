using System.Globalization;

namespace Retro.Ingestion.Reading;

/// <summary>One input file of the corpus.</summary>
/// <param name="Path">Full path.</param>
/// <param name="Key">Checkpoint identity: full path, size and modification time, so a rewritten file is read afresh.</param>
/// <param name="Length">Size in bytes on disk (0 when it cannot be read).</param>
public sealed record Shard(string Path, string Key, long Length)
{
    /// <summary>Describes the file at <paramref name="path"/>; never throws for unreadable paths (they get a key without size).</summary>
    public static Shard For(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        try
        {
            var info = new FileInfo(full);
            if (info.Exists)
            {
                string stamp = info.LastWriteTimeUtc.Ticks.ToString(CultureInfo.InvariantCulture);
                return new Shard(full, $"{full}|{info.Length.ToString(CultureInfo.InvariantCulture)}|{stamp}", info.Length);
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return new Shard(full, full, 0);
    }
}
