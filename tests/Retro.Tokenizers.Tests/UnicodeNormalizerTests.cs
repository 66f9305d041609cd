using System.Text;
using Retro.Tokenizers.Unicode;

namespace Retro.Tokenizers.Tests;

public sealed class UnicodeNormalizerTests
{
    [Theory]
    [InlineData("e\u0301", NormalizationForm.FormC, "\u00E9")]
    [InlineData("\u00E9", NormalizationForm.FormD, "e\u0301")]
    [InlineData("\u212B", NormalizationForm.FormC, "\u00C5")] // ANGSTROM SIGN, a singleton
    [InlineData("\u1E9B\u0323", NormalizationForm.FormC, "\u1E9B\u0323")] // UAX #15 example
    [InlineData("\u1E9B\u0323", NormalizationForm.FormD, "\u017F\u0323\u0307")]
    [InlineData("\u1E9B\u0323", NormalizationForm.FormKC, "\u1E69")]
    [InlineData("\u1E9B\u0323", NormalizationForm.FormKD, "s\u0323\u0307")]
    [InlineData("e\u0301\u0323", NormalizationForm.FormC, "\u1EB9\u0301")] // canonical reordering first
    [InlineData("\uFB01", NormalizationForm.FormKC, "fi")]
    [InlineData("\uFB01", NormalizationForm.FormC, "\uFB01")]
    [InlineData("\u00BD", NormalizationForm.FormKD, "1\u20442")]
    [InlineData("\uD55C", NormalizationForm.FormD, "\u1112\u1161\u11AB")] // Hangul, algorithmic
    [InlineData("\u1112\u1161\u11AB", NormalizationForm.FormC, "\uD55C")]
    [InlineData("\uFF76\uFF9E", NormalizationForm.FormKC, "\u30AC")] // halfwidth ｶﾞ → ガ
    [InlineData("plain ASCII", NormalizationForm.FormKC, "plain ASCII")]
    [InlineData("\uD835\uDC00", NormalizationForm.FormKC, "A")] // MATHEMATICAL BOLD CAPITAL A
    public void KnownCases(string input, NormalizationForm form, string expected) =>
        UnicodeNormalizer.Normalize(input, form).ShouldBe(expected);

    [Fact]
    public void Alignment_PointsBackIntoTheSource()
    {
        var n = UnicodeNormalizer.Normalize(NormalizedText.Identity("x\uFB01e\u0301"), NormalizationForm.FormKC);
        n.Text.ShouldBe("xfi\u00E9");
        n.SourceRange(1, 2).ShouldBe((1, 2)); // 'f' comes from the ligature
        n.SourceRange(2, 3).ShouldBe((1, 2));
        n.SourceRange(3, 4).ShouldBe((2, 4)); // 'é' from 'e' + U+0301
    }

    [Fact]
    public void Forms_AreIdempotentAndConsistent_OnData()
    {
        foreach (string text in TestData.AllTexts.Take(500).Concat(TestData.Hostile))
        {
            string nfd = UnicodeNormalizer.Normalize(text, NormalizationForm.FormD);
            string nfc = UnicodeNormalizer.Normalize(text, NormalizationForm.FormC);
            UnicodeNormalizer.Normalize(nfd, NormalizationForm.FormC).ShouldBe(nfc);
            UnicodeNormalizer.Normalize(nfc, NormalizationForm.FormD).ShouldBe(nfd);
            UnicodeNormalizer.Normalize(nfc, NormalizationForm.FormC).ShouldBe(nfc);
            string nfkc = UnicodeNormalizer.Normalize(text, NormalizationForm.FormKC);
            UnicodeNormalizer.Normalize(nfkc, NormalizationForm.FormKC).ShouldBe(nfkc);
        }
    }
}
