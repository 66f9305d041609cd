using System.Buffers;

namespace Retro.Ingestion.Reading;

/// <summary>
/// Splits a byte stream into '\n'-terminated lines with bounded memory: the buffer never grows past the longest line
/// allowed; a longer line is skipped to its end and reported as too long (with its first bytes kept for a snippet).
/// </summary>
internal sealed class LineReader : IDisposable
{
    private const int InitialBuffer = 64 * 1024;
    private const int SnippetBytes = 1024;

    private readonly Stream _stream;
    private readonly int _maxLine;
    private byte[] _buffer;
    private int _start, _end;
    private bool _eof;

    public LineReader(Stream stream, int maxLineBytes, long startOffset)
    {
        _stream = stream;
        _maxLine = maxLineBytes;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Min(InitialBuffer, maxLineBytes + 1));
        Position = startOffset;
    }

    /// <summary>Offset (in the stream) of the next unread byte.</summary>
    public long Position { get; private set; }

    /// <summary>The bytes at the start of the stream without consuming them (at most <paramref name="count"/>).</summary>
    public ReadOnlySpan<byte> Peek(int count)
    {
        while (!_eof && _end - _start < count && _end - _start < _buffer.Length) Fill();
        return _buffer.AsSpan(_start, Math.Min(count, _end - _start));
    }

    /// <summary>
    /// Reads the next line without its terminator ('\n' or "\r\n"). The segment stays valid until the next call.
    /// Returns false at the end of the stream. <paramref name="tooLong"/> is set when the line exceeded the limit; the
    /// segment then holds only its first bytes. Stream errors (corrupt gzip) propagate.
    /// </summary>
    public bool TryReadLine(out ArraySegment<byte> line, out bool tooLong)
    {
        tooLong = false;
        int scanFrom = _start;
        while (true)
        {
            int newline = _buffer.AsSpan(scanFrom, _end - scanFrom).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                int end = scanFrom + newline;
                line = Trim(_start, end);
                tooLong = line.Count > _maxLine;
                if (tooLong) line = Snippet(line);
                Consume(end + 1 - _start);
                return true;
            }
            if (_eof)
            {
                if (_end == _start) { line = default; return false; }
                line = Trim(_start, _end);
                tooLong = line.Count > _maxLine;
                if (tooLong) line = Snippet(line);
                Consume(_end - _start);
                return true;
            }
            if (_end - _start > _maxLine)
            {
                line = SkipLongLine();
                tooLong = true;
                return true;
            }
            int scanned = _end - _start; // Fill moves the buffered bytes to the front
            Fill();
            scanFrom = _start + scanned;
        }
    }

    private ArraySegment<byte> Trim(int start, int end)
    {
        if (end > start && _buffer[end - 1] == (byte)'\r') end--;
        return new ArraySegment<byte>(_buffer, start, end - start);
    }

    private static ArraySegment<byte> Snippet(ArraySegment<byte> line) => line[..Math.Min(SnippetBytes, line.Count)];

    private ArraySegment<byte> SkipLongLine()
    {
        byte[] snippet = _buffer.AsSpan(_start, Math.Min(SnippetBytes, _end - _start)).ToArray();
        Consume(_end - _start);
        while (true)
        {
            if (_end == _start)
            {
                if (_eof) break;
                Fill();
                continue;
            }
            int newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (newline >= 0) { Consume(newline + 1); break; }
            Consume(_end - _start);
        }
        return new ArraySegment<byte>(snippet);
    }

    private void Consume(int count)
    {
        _start += count;
        Position += count;
    }

    private void Fill()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            int size = (int)Math.Min((long)_buffer.Length * 2, (long)_maxLine + 2);
            if (size <= _buffer.Length) size = _buffer.Length + 1;
            byte[] bigger = ArrayPool<byte>.Shared.Rent(size);
            Buffer.BlockCopy(_buffer, 0, bigger, 0, _end);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        int read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (read == 0) _eof = true;
        _end += read;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}
