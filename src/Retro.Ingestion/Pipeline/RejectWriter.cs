using System.Text.Json;
using Retro.Ingestion.Reading;

namespace Retro.Ingestion.Pipeline;

/// <summary>
/// Appends quarantined records to a JSON lines file: <c>{"shard", "line", "offset", "reason", "detail", "snippet"}</c>.
/// A null path keeps only the counts. Thread-safe; flushed on every write so a crash loses nothing written.
/// </summary>
public sealed class RejectWriter : IDisposable
{
    private readonly Lock _lock = new();
    private readonly FileStream? _file;
    private readonly Utf8JsonWriter? _json;

    /// <summary>Opens <paramref name="path"/> for appending (creating its folder), or counts only when null.</summary>
    public RejectWriter(string? path)
    {
        Path = path;
        if (path is null) return;
        string? folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        _json = new Utf8JsonWriter(_file, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    /// <summary>The file written, or null.</summary>
    public string? Path { get; }

    /// <summary>Writes one reject line.</summary>
    public void Write(string shardPath, long line, long offset, RecordReject reject)
    {
        ArgumentNullException.ThrowIfNull(reject);
        if (_json is null) return;
        lock (_lock)
        {
            _json.WriteStartObject();
            _json.WriteString("shard", shardPath);
            _json.WriteNumber("line", line);
            _json.WriteNumber("offset", offset);
            _json.WriteString("reason", RejectReasons.Name(reject.Reason));
            _json.WriteString("detail", reject.Detail);
            _json.WriteString("snippet", reject.Snippet);
            _json.WriteEndObject();
            _json.Flush();
            _json.Reset();
            _file!.WriteByte((byte)'\n');
            _file.Flush();
        }
    }

    public void Dispose()
    {
        _json?.Dispose();
        _file?.Dispose();
    }
}
