using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Retro.Core;

/// <summary>
/// Identity of one stored RETRO chunk: a UUID derived deterministically from the document identity and the
/// chunk's ordinal in that document (RFC 9562 version 5, SHA-1 over a fixed namespace), so that ingesting the same
/// document twice writes the same points in every store.
/// </summary>
public readonly record struct ChunkId(Guid Value) : IComparable<ChunkId>
{
    /// <summary>Namespace of Retro chunk ids (a fixed random UUID; changing it changes every id ever written).</summary>
    public static readonly Guid Namespace = new("6f1d8a52-3c4b-4e0f-9a7e-52b1c0d4e8a3");

    /// <summary>The id of chunk <paramref name="ordinal"/> (0-based) of document <paramref name="documentId"/>.</summary>
    public static ChunkId From(string documentId, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(documentId);
        ArgumentOutOfRangeException.ThrowIfNegative(ordinal);
        int nameLength = Encoding.UTF8.GetByteCount(documentId) + 1 + 11;
        byte[] buffer = new byte[16 + nameLength];
        Namespace.TryWriteBytes(buffer, bigEndian: true, out _);
        int written = Encoding.UTF8.GetBytes(documentId, buffer.AsSpan(16));
        buffer[16 + written] = (byte)'#';
        ordinal.TryFormat(buffer.AsSpan(17 + written), out int digits, provider: System.Globalization.CultureInfo.InvariantCulture);
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(buffer.AsSpan(0, 17 + written + digits), hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50); // version 5
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new ChunkId(new Guid(hash[..16], bigEndian: true));
    }

    /// <summary>Parses the canonical 8-4-4-4-12 form.</summary>
    public static ChunkId Parse(string text) => new(Guid.Parse(text));

    /// <summary>The 64-bit prefix of the UUID (big-endian), handy as a compact hash key.</summary>
    public ulong Prefix
    {
        get
        {
            Span<byte> bytes = stackalloc byte[16];
            Value.TryWriteBytes(bytes, bigEndian: true, out _);
            return BinaryPrimitives.ReadUInt64BigEndian(bytes);
        }
    }

    public int CompareTo(ChunkId other) => Value.CompareTo(other.Value);

    /// <summary>The canonical lower-case 8-4-4-4-12 form, as Qdrant writes point ids.</summary>
    public override string ToString() => Value.ToString("D");
}
