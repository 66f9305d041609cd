using Retro.Core;
using Retro.Core.Text;

namespace Retro.Core.Tests;

public class TextAnalyzerTests
{
    [Fact]
    public void Splits_on_non_word_characters_and_folds_case()
    {
        new TextAnalyzer().Terms("Hello, WORLD! It's 2024: café-Ünïcode_x").ShouldBe(["hello", "world", "it", "s", "2024", "café", "ünïcode", "x"]);
    }

    [Fact]
    public void Keeps_combining_marks_inside_words_and_splits_ideographs()
    {
        new TextAnalyzer().Terms("cafe\u0301 東京タワー ΣΟΦΊΑ").ShouldBe(["cafe\u0301", "東", "京", "タ", "ワ", "ー", "σοφία"]);
    }

    [Fact]
    public void Drops_terms_longer_than_the_limit()
    {
        var longWord = new string('x', TextAnalyzer.MaxTermLength + 1);
        new TextAnalyzer().Terms($"a {longWord} b").ShouldBe(["a", "b"]);
        new TextAnalyzer().Terms(new string('y', TextAnalyzer.MaxTermLength)).Single().Length.ShouldBe(TextAnalyzer.MaxTermLength);
    }

    [Fact]
    public void Stop_words_and_stemming_are_options()
    {
        const string text = "The cats and the ponies were in glasses of houses";
        new TextAnalyzer().Terms(text).ShouldBe(["the", "cats", "and", "the", "ponies", "were", "in", "glasses", "of", "houses"]);
        new TextAnalyzer(new Bm25Options { StopWords = true }).Terms(text).ShouldBe(["cats", "ponies", "were", "glasses", "houses"]);
        new TextAnalyzer(new Bm25Options { StopWords = true, Stemming = true }).Terms(text).ShouldBe(["cat", "pony", "were", "glasse", "house"]);
    }

    [Theory]
    [InlineData("cats", "cat")]
    [InlineData("ponies", "pony")]
    [InlineData("aies", "aies")]
    [InlineData("bus", "bus")]
    [InlineData("glass", "glass")]
    [InlineData("toes", "toes")]
    [InlineData("is", "is")]
    [InlineData("dog", "dog")]
    public void Plural_stemmer_follows_lucene_minimal_english(string word, string stem)
    {
        var buffer = word.ToCharArray();
        new string(buffer, 0, TextAnalyzer.StemPlural(buffer, buffer.Length)).ShouldBe(stem);
    }

    [Fact]
    public void Term_ids_are_fnv1a_32_of_utf8()
    {
        // Reference values of FNV-1a 32 (offset basis 2166136261, prime 16777619).
        TextAnalyzer.TermId("").ShouldBe(2166136261u);
        TextAnalyzer.TermId("a").ShouldBe(0xe40c292cu);
        TextAnalyzer.TermId("foobar").ShouldBe(0xbf9cf968u);
        // Non-ASCII goes through UTF-8: "é" is C3 A9.
        uint h = 2166136261;
        foreach (byte b in new byte[] { 0xC3, 0xA9 }) h = (h ^ b) * 16777619;
        TextAnalyzer.TermId("é").ShouldBe(h);
    }

    [Fact]
    public void Count_gives_distinct_terms_sorted_by_id_and_the_length()
    {
        var counts = new TextAnalyzer().Count("b a b c b", out int length);
        length.ShouldBe(5);
        counts.Select(c => c.Term).ShouldBe(counts.Select(c => c.Term).Order());
        counts.Single(c => c.Term == TextAnalyzer.TermId("b")).Count.ShouldBe(3);
        counts.Single(c => c.Term == TextAnalyzer.TermId("a")).Count.ShouldBe(1);
        counts.Length.ShouldBe(3);
        new TextAnalyzer().Count("  ,.;  ", out int empty).ShouldBeEmpty();
        empty.ShouldBe(0);
    }

    [Fact]
    public void Bm25_formulas_match_hand_computed_values()
    {
        // idf(df=1, N=3) = ln(1 + (3 - 1 + 0.5) / (1 + 0.5)) = ln(2.666667) = 0.980829
        Bm25.Idf(1, 3).ShouldBe(0.980829f, 1e-5f);
        // idf(df=N) is small but positive: ln(1 + 0.5/3.5) = 0.133531
        Bm25.Idf(3, 3).ShouldBe(0.133531f, 1e-5f);
        // tf=2, |d|=4, avgdl=3, k1=1.2, b=0.75: 2·2.2 / (2 + 1.2·(0.25 + 0.75·4/3)) = 4.4 / 3.5 = 1.257143
        Bm25.TermWeight(2, 4, 3f, 1.2f, 0.75f).ShouldBe(1.257143f, 1e-5f);
        Bm25.TermWeight(0, 4, 3f, 1.2f, 0.75f).ShouldBe(0f);
        // b = 0: no length normalisation: 1·2.2 / (1 + 1.2) = 1
        Bm25.TermWeight(1, 100, 3f, 1.2f, 0f).ShouldBe(1f, 1e-6f);
    }

    [Fact]
    public void Options_validate_ranges_and_compare_analysis()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => new Bm25Options { B = 1.5f }.Validate());
        Should.Throw<ArgumentOutOfRangeException>(() => new Bm25Options { K1 = -1f }.Validate());
        Should.Throw<ArgumentOutOfRangeException>(() => new Bm25Options { K1 = float.NaN }.Validate());
        new Bm25Options { K1 = 2f }.SameAnalysis(new Bm25Options()).ShouldBeTrue();
        new Bm25Options { Stemming = true }.SameAnalysis(new Bm25Options()).ShouldBeFalse();
    }
}
