using System.IO.Compression;
using System.Text.Json;

namespace Retro.Tokenizers.Training;

/// <summary>Reads documents from corpus files for training.</summary>
public static class CorpusReader
{
    /// <summary>
    /// Documents of <paramref name="path"/>: for <c>.jsonl</c>/<c>.json</c> (optionally <c>.gz</c>) JSON lines, each
    /// line's <c>text</c> string (lines without one are skipped); for other files, each non-empty line.
    /// </summary>
    /// <exception cref="InvalidDataException">A JSON line is not valid JSON (the message names file and line).</exception>
    public static IEnumerable<string> ReadDocuments(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        bool gzip = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
        string name = gzip ? path[..^3] : path;
        bool json = name.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        using Stream file = File.OpenRead(path);
        using Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new StreamReader(stream);
        int lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0) continue;
            if (!json)
            {
                yield return line;
                continue;
            }
            string? text;
            try
            {
                using var doc = JsonDocument.Parse(line);
                text = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String
                    ? t.GetString() : null;
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{lineNumber}: not a JSON line ({e.Message}).", e);
            }
            if (text is not null) yield return text;
        }
    }
}
