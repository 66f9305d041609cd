namespace Retro.Tokenizers;

/// <summary>
/// GPT-2's reversible map between bytes and printable Unicode characters (<c>bytes_to_unicode</c>): bytes
/// '!'..'~', '¡'..'¬' and '®'..'ÿ' map to themselves, the other 68 bytes to U+0100.. in byte order
/// (so byte 32 → 'Ġ' U+0120, byte 10 → 'Ċ' U+010A).
/// </summary>
public static class ByteLevelAlphabet
{
    private static readonly char[] ByteToCharTable = BuildByteToChar();
    private static readonly short[] CharToByteTable = BuildCharToByte(ByteToCharTable);

    /// <summary>The character that stands for byte <paramref name="b"/>.</summary>
    public static char ByteToChar(byte b) => ByteToCharTable[b];

    /// <summary>The byte a character stands for, or -1 when <paramref name="c"/> is not in the alphabet.</summary>
    public static int CharToByte(char c) => c < CharToByteTable.Length ? CharToByteTable[c] : -1;

    /// <summary>The 256 alphabet characters, indexed by byte.</summary>
    public static ReadOnlySpan<char> Characters => ByteToCharTable;

    /// <summary>Maps UTF-8 <paramref name="bytes"/> to alphabet characters (one per byte) in <paramref name="destination"/>.</summary>
    public static void Map(ReadOnlySpan<byte> bytes, Span<char> destination)
    {
        if (destination.Length < bytes.Length) throw new ArgumentException("Destination is shorter than the byte input.", nameof(destination));
        for (int i = 0; i < bytes.Length; i++) destination[i] = ByteToCharTable[bytes[i]];
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static short[] BuildCharToByte(char[] byteToChar)
    {
        var map = new short[324];
        Array.Fill(map, (short)-1);
        for (int b = 0; b < 256; b++) map[byteToChar[b]] = (short)b;
        return map;
    }
}
