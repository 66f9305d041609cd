using System.Buffers.Binary;
using System.Text;

namespace Retro.Tokenizers.Unicode;

/// <summary>Unicode normalization forms NFC, NFD, NFKC, NFKD with alignment to the source text.</summary>
internal static class UnicodeNormalizer
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Tables NormalizationTables = Tables.Load();

    /// <summary>Unicode version of the embedded tables, e.g. 1400 for 14.0.</summary>
    public static int UnicodeVersion => NormalizationTables.Version;

    public static int CombiningClass(int cp) => cp < 0x300 ? 0 : NormalizationTables.Ccc.GetValueOrDefault(cp);

    /// <summary>Normalizes to <paramref name="form"/> keeping the alignment to the source.</summary>
    public static NormalizedText Normalize(NormalizedText input, NormalizationForm form)
    {
        bool compat = form is NormalizationForm.FormKC or NormalizationForm.FormKD;
        bool compose = form is NormalizationForm.FormC or NormalizationForm.FormKC;
        string text = input.Text;
        // Below U+00A0 (U+00C0 for canonical forms) no code point decomposes, composes or has a combining class.
        if (!HasAtLeast(text, compat ? '\u00A0' : '\u00C0')) return input;

        var cps = new List<(int Cp, int Start, int End)>(text.Length + 8);
        for (int i = 0; i < text.Length;)
        {
            int width = ReadCodePoint(text, i, out int cp);
            int start = input.SourceStart(i), end = input.SourceEnd(i + width - 1);
            if (width == 2) start = Math.Min(start, input.SourceStart(i + 1));
            Decompose(cp, compat, start, end, cps);
            i += width;
        }
        CanonicalOrder(cps);
        if (compose) Compose(cps);

        var builder = new NormalizedBuilder(cps.Count + 4);
        foreach (var (cp, start, end) in cps) builder.AppendCodePoint(cp, start, end);
        return builder.Build();
    }

    /// <summary>Normalizes plain text (no alignment kept).</summary>
    public static string Normalize(string text, NormalizationForm form) =>
        Normalize(NormalizedText.Identity(text), form).Text;

    /// <summary>Reads the code point at <paramref name="i"/>; a lone surrogate is returned as itself. Returns its width.</summary>
    public static int ReadCodePoint(ReadOnlySpan<char> text, int i, out int cp)
    {
        char c = text[i];
        if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
        {
            cp = char.ConvertToUtf32(c, text[i + 1]);
            return 2;
        }
        cp = c;
        return 1;
    }

    private static bool HasAtLeast(string text, char bound)
    {
        foreach (char c in text) if (c >= bound) return true;
        return false;
    }

    private static void Decompose(int cp, bool compat, int start, int end, List<(int, int, int)> output)
    {
        if (cp >= SBase && cp < SBase + SCount)
        {
            int s = cp - SBase;
            output.Add((LBase + s / NCount, start, end));
            output.Add((VBase + s % NCount / TCount, start, end));
            if (s % TCount != 0) output.Add((TBase + s % TCount, start, end));
            return;
        }
        if (cp >= 0xA0 && (compat ? NormalizationTables.Nfkd : NormalizationTables.Nfd).TryGetValue(cp, out int[]? parts))
        {
            foreach (int p in parts) output.Add((p, start, end));
            return;
        }
        output.Add((cp, start, end));
    }

    // Stable sort of each run of non-starters by combining class (Unicode canonical ordering).
    private static void CanonicalOrder(List<(int Cp, int Start, int End)> cps)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int ccc = CombiningClass(cps[i].Cp);
            if (ccc == 0) continue;
            int j = i;
            var item = cps[i];
            while (j > 0)
            {
                int prev = CombiningClass(cps[j - 1].Cp);
                if (prev <= ccc) break;
                cps[j] = cps[j - 1];
                j--;
            }
            cps[j] = item;
        }
    }

    private static void Compose(List<(int Cp, int Start, int End)> cps)
    {
        if (cps.Count == 0) return;
        int write = 0;
        int starter = CombiningClass(cps[0].Cp) == 0 ? 0 : -1;
        int lastClass = starter == 0 ? 0 : 256;
        write = 1;
        for (int read = 1; read < cps.Count; read++)
        {
            var c = cps[read];
            int ccc = CombiningClass(c.Cp);
            if (starter >= 0 && (lastClass < ccc || lastClass == 0) && TryCompose(cps[starter].Cp, c.Cp, out int composite))
            {
                var s = cps[starter];
                cps[starter] = (composite, Math.Min(s.Start, c.Start), Math.Max(s.End, c.End));
                continue;
            }
            if (ccc == 0) starter = write;
            lastClass = ccc;
            cps[write++] = c;
        }
        cps.RemoveRange(write, cps.Count - write);
    }

    private static bool TryCompose(int first, int second, out int composite)
    {
        if (first >= LBase && first < LBase + LCount && second >= VBase && second < VBase + VCount)
        {
            composite = SBase + ((first - LBase) * VCount + (second - VBase)) * TCount;
            return true;
        }
        if (first >= SBase && first < SBase + SCount && (first - SBase) % TCount == 0 && second > TBase && second < TBase + TCount)
        {
            composite = first + (second - TBase);
            return true;
        }
        return NormalizationTables.Compositions.TryGetValue(((long)first << 32) | (uint)second, out composite);
    }

    private sealed class Tables
    {
        public required int Version { get; init; }
        public required Dictionary<int, int> Ccc { get; init; }
        public required Dictionary<int, int[]> Nfd { get; init; }
        public required Dictionary<int, int[]> Nfkd { get; init; }
        public required Dictionary<long, int> Compositions { get; init; }

        public static Tables Load()
        {
            using var stream = typeof(Tables).Assembly.GetManifestResourceStream("Retro.Tokenizers.unicode_tables.bin")
                ?? throw new InvalidOperationException("Embedded resource unicode_tables.bin is missing from Retro.Tokenizers.");
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            int pos = 0;
            int Next()
            {
                int v = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(pos));
                pos += 4;
                return v;
            }
            if (Next() != 0x544E5552 || Next() != 1) throw new InvalidOperationException("unicode_tables.bin has an unknown format; rerun Unicode/generate_tables.py.");
            int version = Next();
            var ccc = new Dictionary<int, int>();
            for (int n = Next(); n > 0; n--) ccc[Next()] = Next();
            Dictionary<int, int[]> ReadDecompositions()
            {
                var map = new Dictionary<int, int[]>();
                for (int n = Next(); n > 0; n--)
                {
                    int cp = Next();
                    var parts = new int[Next()];
                    for (int k = 0; k < parts.Length; k++) parts[k] = Next();
                    map[cp] = parts;
                }
                return map;
            }
            var nfd = ReadDecompositions();
            var nfkd = ReadDecompositions();
            var comp = new Dictionary<long, int>();
            for (int n = Next(); n > 0; n--)
            {
                int a = Next(), b = Next();
                comp[((long)a << 32) | (uint)b] = Next();
            }
            return new Tables { Version = version, Ccc = ccc, Nfd = nfd, Nfkd = nfkd, Compositions = comp };
        }
    }
}
