using System.Text;
using Retro.Core;

namespace Retro.Api.Tests.Doubles;

/// <summary>UTF-8 bytes as ids 0..255, plus pad (256) and eos (257). Enough for the generation loop's bookkeeping.</summary>
internal sealed class ByteTokenizer : ITokenizer
{
    public const int Pad = 256;
    public const int Eos = 257;

    public int VocabularySize => 258;

    public int Encode(ReadOnlySpan<char> text, Span<int> destination)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text.ToString());
        if (bytes.Length > destination.Length) return -bytes.Length;
        for (int i = 0; i < bytes.Length; i++) destination[i] = bytes[i];
        return bytes.Length;
    }

    public int[] Encode(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();

    public IReadOnlyList<(int Id, Range Offsets)> EncodeWithOffsets(string text) => throw new NotSupportedException();

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true)
    {
        var bytes = new List<byte>(ids.Length);
        foreach (int id in ids)
        {
            if (id < 256) bytes.Add((byte)id);
            else if (!skipSpecialTokens) bytes.AddRange(id == Pad ? "<pad>"u8.ToArray() : "<eos>"u8.ToArray());
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    public int? TokenToId(string token) => token switch { "<pad>" => Pad, "<eos>" => Eos, _ => null };

    public string? IdToToken(int id) => id switch { < 256 and >= 0 => ((char)id).ToString(), Pad => "<pad>", Eos => "<eos>", _ => null };
}
