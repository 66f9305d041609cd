using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Retro.Ingestion.Reading;

/// <summary>
/// Streams the records of one shard (<c>.json</c>/<c>.jsonl</c>, optionally gzip-compressed, detected by its magic
/// bytes) in constant memory. Accepts C4's fields and the variants real copies use: <c>timestamp</c> or <c>date</c>;
/// <c>meta</c>/<c>metadata</c> as an object or as a JSON string holding <c>url</c>/<c>timestamp</c>. Bad records and
/// unreadable shards come back as rejects; the reader itself never throws for bad input.
/// </summary>
public sealed class JsonlReader
{
    private const int SniffBytes = 4096;

    private readonly int _maxDocumentBytes;

    /// <summary>Creates a reader that rejects lines longer than <paramref name="maxDocumentBytes"/> bytes.</summary>
    public JsonlReader(int maxDocumentBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDocumentBytes, 16);
        _maxDocumentBytes = maxDocumentBytes;
    }

    /// <summary>Bytes of the underlying file consumed so far by the current <see cref="Read"/> (for progress).</summary>
    public long FileBytesRead => _file is { } f ? SafePosition(f) : 0;

    private FileStream? _file;

    /// <summary>
    /// Reads <paramref name="shard"/> from the position of a checkpoint (<paramref name="skipRecords"/> records,
    /// <paramref name="skipBytes"/> decompressed bytes; both 0 for the start). Not thread-safe: one shard at a time.
    /// </summary>
    public IEnumerable<ShardRecord> Read(Shard shard, long skipRecords = 0, long skipBytes = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(shard);
        ArgumentOutOfRangeException.ThrowIfNegative(skipRecords);
        ArgumentOutOfRangeException.ThrowIfNegative(skipBytes);

        FileStream? file = Open(shard.Path, out string? openError);
        if (file is null)
        {
            yield return ShardReject(skipRecords, skipBytes, RejectReason.Unreadable, openError!);
            yield break;
        }
        _file = file;
        try
        {
            bool gzip = IsGzip(file);
            Stream content = gzip ? new GZipStream(file, CompressionMode.Decompress, leaveOpen: true) : file;
            string? skipError = Skip(content, file, gzip, skipBytes);
            if (skipError is not null)
            {
                yield return ShardReject(skipRecords, skipBytes, gzip ? RejectReason.CorruptCompression : RejectReason.Unreadable, skipError);
                yield break;
            }
            using var lines = new LineReader(content, _maxDocumentBytes, skipBytes);
            long records = skipRecords;

            if (skipBytes == 0)
            {
                string? sniffError = null;
                bool binary = false;
                try { binary = lines.Peek(SniffBytes).IndexOf((byte)0) >= 0; }
                catch (Exception e) when (e is InvalidDataException or IOException) { sniffError = e.Message; }
                if (sniffError is not null || binary)
                {
                    yield return ShardReject(0, 0, sniffError is null ? RejectReason.BinaryFile : gzip ? RejectReason.CorruptCompression : RejectReason.Unreadable,
                        sniffError ?? "NUL bytes in the first 4 KiB: not a JSON lines file");
                    yield break;
                }
            }

            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long offset = lines.Position;
                ArraySegment<byte> line;
                bool tooLong;
                string? streamError = null;
                try
                {
                    if (!lines.TryReadLine(out line, out tooLong)) break;
                }
                catch (Exception e) when (e is InvalidDataException or IOException)
                {
                    line = default;
                    tooLong = false;
                    streamError = e.Message;
                }
                if (streamError is not null)
                {
                    yield return new ShardRecord(records + 1, offset, records, offset,
                        null, new RecordReject(gzip ? RejectReason.CorruptCompression : RejectReason.Unreadable, streamError, ""));
                    yield break;
                }
                records++;
                var (document, reject) = tooLong
                    ? (null, new RecordReject(RejectReason.TooLarge, $"line longer than {_maxDocumentBytes} bytes", Snippet(line)))
                    : Parse(line);
                yield return new ShardRecord(records, offset, records, lines.Position, document, reject);
            }

            // A gzip stream that stops inside a member, or misses its footer, reads as EOF in .NET: check the
            // compressed bytes were all consumed and the last member's trailer size matches.
            if (gzip && TruncationError(file, lines.Position) is { } truncated)
            {
                yield return new ShardRecord(records + 1, lines.Position, records, lines.Position,
                    null, new RecordReject(RejectReason.CorruptCompression, truncated, ""));
            }
        }
        finally
        {
            _file = null;
            file.Dispose();
        }
    }

    /// <summary>Parses one line into a document or a reject.</summary>
    public static (SourceDocument? Document, RecordReject? Reject) Parse(ReadOnlySpan<byte> line)
    {
        if (line.IndexOfAnyExcept(" \t\r"u8) < 0) return (null, null);
        if (!Utf8.IsValid(line)) return (null, new RecordReject(RejectReason.InvalidUtf8, "not valid UTF-8", Snippet(line)));
        JsonDocument json;
        try
        {
            var reader = new Utf8JsonReader(line);
            json = JsonDocument.ParseValue(ref reader);
            if (reader.Read()) return (null, new RecordReject(RejectReason.MalformedJson, "trailing data after the JSON object", Snippet(line)));
        }
        catch (JsonException e)
        {
            return (null, new RecordReject(RejectReason.MalformedJson, e.Message, Snippet(line)));
        }
        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return (null, new RecordReject(RejectReason.MalformedJson, $"a JSON {root.ValueKind} is not a record", Snippet(line)));
            if (!root.TryGetProperty("text", out var textElement))
                return (null, new RecordReject(RejectReason.MissingText, "no \"text\" field", Snippet(line)));
            if (textElement.ValueKind != JsonValueKind.String)
                return (null, new RecordReject(RejectReason.NonStringText, $"\"text\" is a JSON {textElement.ValueKind}", Snippet(line)));
            string text = textElement.GetString()!;
            if (string.IsNullOrWhiteSpace(text))
                return (null, new RecordReject(RejectReason.EmptyText, "\"text\" is empty", Snippet(line)));

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            string? url = null;
            foreach (var property in root.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "text": break;
                    case "url": url = Scalar(property.Value); break;
                    case "date": if (Scalar(property.Value) is { } date) metadata.TryAdd("timestamp", date); break;
                    case "meta" or "metadata": break;
                    default:
                        if (Scalar(property.Value) is { } value)
                        {
                            if (property.Name == "timestamp") metadata["timestamp"] = value;
                            else metadata.TryAdd(property.Name, value);
                        }
                        break;
                }
            }
            // Nested metadata fills only what the top level left unset.
            foreach (string name in (ReadOnlySpan<string>)["meta", "metadata"])
            {
                if (!root.TryGetProperty(name, out var meta)) continue;
                if (meta.ValueKind == JsonValueKind.String) MergeMetaString(name, meta.GetString()!, metadata, ref url);
                else if (meta.ValueKind == JsonValueKind.Object) MergeMeta(meta, metadata, ref url);
            }
            return (new SourceDocument(text, string.IsNullOrEmpty(url) ? null : url, metadata), null);
        }
    }

    private static void MergeMetaString(string name, string value, Dictionary<string, string> metadata, ref string? url)
    {
        try
        {
            using var inner = JsonDocument.Parse(value);
            if (inner.RootElement.ValueKind == JsonValueKind.Object)
            {
                MergeMeta(inner.RootElement, metadata, ref url);
                return;
            }
        }
        catch (JsonException) { }
        metadata.TryAdd(name, value);
    }

    private static void MergeMeta(JsonElement meta, Dictionary<string, string> metadata, ref string? url)
    {
        foreach (var property in meta.EnumerateObject())
        {
            if (Scalar(property.Value) is not { } value) continue;
            if (property.Name == "url") url ??= value;
            else if (property.Name == "date") metadata.TryAdd("timestamp", value);
            else metadata.TryAdd(property.Name, value);
        }
    }

    private static string? Scalar(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => null,
    };

    /// <summary>The start of <paramref name="line"/> as text (invalid UTF-8 replaced), at most <see cref="ShardRecord.SnippetChars"/> chars.</summary>
    public static string Snippet(ReadOnlySpan<byte> line)
    {
        string text = Encoding.UTF8.GetString(line[..Math.Min(line.Length, ShardRecord.SnippetChars * 4)]);
        return text.Length <= ShardRecord.SnippetChars ? text : text[..ShardRecord.SnippetChars];
    }

    private static ShardRecord ShardReject(long records, long offset, RejectReason reason, string detail)
        => new(records == 0 ? 0 : records + 1, offset, records, offset, null, new RecordReject(reason, detail, ""));

    private static FileStream? Open(string path, out string? error)
    {
        error = null;
        try
        {
            if (Directory.Exists(path)) { error = "is a directory"; return null; }
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            error = e.Message;
            return null;
        }
    }

    private static bool IsGzip(FileStream file)
    {
        Span<byte> magic = stackalloc byte[2];
        int read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return read == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
    }

    private static string? Skip(Stream content, FileStream file, bool gzip, long bytes)
    {
        if (bytes == 0) return null;
        if (!gzip)
        {
            if (bytes > file.Length) return $"checkpoint offset {bytes} is past the end of the file ({file.Length} bytes)";
            file.Position = bytes;
            return null;
        }
        byte[] scratch = new byte[1 << 16];
        long left = bytes;
        try
        {
            while (left > 0)
            {
                int read = content.Read(scratch, 0, (int)Math.Min(scratch.Length, left));
                if (read == 0) return $"checkpoint offset {bytes} is past the end of the decompressed stream";
                left -= read;
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return e.Message;
        }
        return null;
    }

    private static string? TruncationError(FileStream file, long decompressedLength)
    {
        long length = file.Length;
        if (length < 18) return "gzip stream shorter than its header and trailer";
        // GZipStream reads ahead, so Position may be at the end even if the deflate data stopped early; the trailer
        // (CRC32, ISIZE = length mod 2^32) must agree with what was decompressed.
        Span<byte> trailer = stackalloc byte[4];
        file.Position = length - 4;
        file.ReadExactly(trailer);
        uint size = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        if (size == (uint)decompressedLength || MemberSizesAddUp(file, size, decompressedLength)) return null;
        return $"gzip stream truncated: trailer says {size} bytes, {decompressedLength} decompressed";
    }

    /// <summary>
    /// A file of several gzip members (`cat a.gz b.gz`, or gzip writers that flush members) has the last member's size
    /// in its trailer. Each member boundary is a trailer (CRC32, ISIZE) followed by a header (1f 8b 08, flags with the
    /// reserved bits clear): when the ISIZEs before every such header, plus the last one, add up to what was
    /// decompressed, the file is whole. (A header-like byte run inside deflate data makes the sum miss, and the file is
    /// reported as before: never a false "whole".) Scans the compressed bytes once, only when the simple check fails.
    /// </summary>
    private static bool MemberSizesAddUp(FileStream file, uint lastSize, long decompressedLength)
    {
        const int Block = 1 << 20, Keep = 7; // a header test at i reads i-4 .. i+3
        var buffer = new byte[Block + Keep];
        uint sum = lastSize;
        int members = 1, carried = 0, scanFrom = 4;
        long offset = 0; // file offset of buffer[0]
        file.Position = 0;
        while (true)
        {
            int read = file.Read(buffer, carried, Block);
            int valid = carried + read;
            for (int i = scanFrom; i < valid - 3; i++)
            {
                if (buffer[i] != 0x1f || buffer[i + 1] != 0x8b || buffer[i + 2] != 0x08 || (buffer[i + 3] & 0xE0) != 0) continue;
                if (offset + i < 18) continue; // inside the first member's header and minimal body
                sum += System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(i - 4, 4));
                members++;
            }
            if (read == 0) break;
            int keep = Math.Min(valid, Keep);
            Buffer.BlockCopy(buffer, valid - keep, buffer, 0, keep);
            offset += valid - keep;
            carried = keep;
            scanFrom = Math.Max(4, keep - 3);
        }
        return members > 1 && sum == (uint)decompressedLength;
    }

    private static long SafePosition(FileStream file)
    {
        try { return file.Position; }
        catch (ObjectDisposedException) { return 0; }
    }
}
