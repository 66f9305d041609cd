using System.Text;
using System.Text.RegularExpressions;

namespace Retro.Tokenizers.Tests;

public sealed partial class Gpt2PreTokenizerTests
{
    [GeneratedRegex(Gpt2PreTokenizer.Pattern)]
    private static partial Regex Gpt2Regex();

    private static List<string> Scan(string text)
    {
        var splits = new List<(int Start, int Length)>();
        Gpt2PreTokenizer.Split(text, splits);
        return splits.Select(s => text.Substring(s.Start, s.Length)).ToList();
    }

    private static List<string> RegexSplit(string text) => Gpt2Regex().Matches(text).Select(m => m.Value).ToList();

    [Theory]
    [InlineData("Hello world", new[] { "Hello", " world" })]
    [InlineData("I'm  here\n\n", new[] { "I", "'m", " ", " here", "\n\n" })]
    [InlineData("it's 2024!!", new[] { "it", "'s", " 2024", "!!" })]
    [InlineData("  x", new[] { " ", " x" })]
    [InlineData("a\n b", new[] { "a", "\n", " b" })]
    [InlineData("a \n\tb", new[] { "a", " \n", "\t", "b" })]
    [InlineData("'S 'll", new[] { "'", "S", " '", "ll" })]
    [InlineData("end  ", new[] { "end", "  " })]
    public void KnownSplits(string text, string[] expected) => Scan(text).ShouldBe(expected);

    [Fact]
    public void EqualsDotNetRegex_OnAllDataAndHostileStrings()
    {
        int compared = 0;
        foreach (string text in TestData.AllTexts.Concat(TestData.Hostile))
        {
            if (HasSupplementaryLetterOrDigit(text)) continue;
            var ours = Scan(text);
            var reference = RegexSplit(text);
            if (!ours.SequenceEqual(reference)) ours.ShouldBe(reference, $"text: {text[..Math.Min(80, text.Length)]}");
            compared++;
        }
        compared.ShouldBeGreaterThan(10_000);
    }

    [Fact]
    public void SupplementaryLetters_AreLetters_UnlikeDotNetRegex()
    {
        // Code-point semantics (Python regex, Hugging Face): U+1D400.. are letters, U+1D7CF.. digits.
        Scan("x 𝐀𝐁c 𝟏𝟐").ShouldBe(["x", " 𝐀𝐁c", " 𝟏𝟐"]);
        // .NET's Regex sees surrogate halves, which are neither letters nor digits.
        RegexSplit("x 𝐀𝐁c 𝟏𝟐").ShouldBe(["x", " 𝐀𝐁", "c", " 𝟏𝟐"]);
    }

    [Fact]
    public void EmojiAndLoneSurrogates_AreOther()
    {
        Scan("a😀😀 b").ShouldBe(["a", "😀😀", " b"]);
        Scan("a\uD800b").ShouldBe(["a", "\uD800", "b"]);
        RegexSplit("a\uD800b").ShouldBe(["a", "\uD800", "b"]);
    }

    private static bool HasSupplementaryLetterOrDigit(string text)
    {
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.Value >= 0x10000 && (Rune.IsLetter(rune) || Rune.IsNumber(rune))) return true;
        }
        return false;
    }
}
