namespace Retro.Tokenizers.Tests;

public sealed class WordPieceTests
{
    private static Dictionary<string, int> Vocab(params string[] tokens)
    {
        var vocab = new Dictionary<string, int>();
        foreach (string t in tokens) vocab[t] = vocab.Count;
        return vocab;
    }

    private static string[] Tokens(Tokenizer t, string text) => t.Encode(text).Select(id => t.IdToToken(id)!).ToArray();

    [Fact]
    public void Docstring_Unaffable()
    {
        var t = Tokenizer.CreateWordPiece(Vocab("[UNK]", "un", "##aff", "##able", "##a"));
        Tokens(t, "unaffable").ShouldBe(["un", "##aff", "##able"]);
    }

    [Fact]
    public void BertTests_UnwantedRunning()
    {
        // google-research/bert tokenization_test.py
        var t = Tokenizer.CreateWordPiece(Vocab("[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn", "##ing", ",", "low", "lowest"));
        Tokens(t, "").ShouldBeEmpty();
        Tokens(t, "unwanted running").ShouldBe(["un", "##want", "##ed", "runn", "##ing"]);
        Tokens(t, "unwantedX running").ShouldBe(["[UNK]", "runn", "##ing"]);
        Tokens(t, "UNwant\u00E9d,running").ShouldBe(["un", "##want", "##ed", ",", "runn", "##ing"]);
    }

    [Fact]
    public void BasicTokenizer_LowerCaseAndAccents()
    {
        var words = Vocab("[UNK]", "hello", "hällo", "hallo", "!", "how", "are", "you", "?", "HeLLo", "Are", "yoU", "HäLLo");
        Tokens(Tokenizer.CreateWordPiece(words), " \tHeLLo!how  \n Are yoU?  ").ShouldBe(["hello", "!", "how", "are", "you", "?"]);
        Tokens(Tokenizer.CreateWordPiece(words, lowercase: false), " \tHeLLo!how  \n Are yoU?  ").ShouldBe(["HeLLo", "!", "how", "Are", "yoU", "?"]);
        Tokens(Tokenizer.CreateWordPiece(words, lowercase: true, stripAccents: false), " \tHäLLo!how  \n Are yoU?  ").ShouldBe(["hällo", "!", "how", "are", "you", "?"]);
        Tokens(Tokenizer.CreateWordPiece(words, lowercase: true, stripAccents: true), " \tHäLLo!how  \n Are yoU?  ").ShouldBe(["hallo", "!", "how", "are", "you", "?"]);
        Tokens(Tokenizer.CreateWordPiece(words, lowercase: true), " \tHäLLo!how  \n Are yoU?  ").ShouldBe(["hallo", "!", "how", "are", "you", "?"]);
        Tokens(Tokenizer.CreateWordPiece(Vocab("[UNK]", "HaLLo"), lowercase: false, stripAccents: true), "HäLLo").ShouldBe(["HaLLo"]);
    }

    [Fact]
    public void HelloWorld_LowerCasedAndAccentsStripped()
    {
        var t = Tokenizer.CreateWordPiece(Vocab("[UNK]", "hello", ",", "world", "!"));
        Tokens(t, "Héllo, World!").ShouldBe(["hello", ",", "world", "!"]);
        var offsets = t.EncodeWithOffsets("Héllo, World!").Select(x => x.Offsets.GetOffsetAndLength(13)).ToArray();
        offsets.ShouldBe([(0, 5), (5, 1), (7, 5), (12, 1)]);
    }

    [Fact]
    public void Cjk_SplitIntoCharacters_HangulAndKanaNot()
    {
        // Stripping accents is NFD + dropping Mn, so Hangul syllables stay decomposed into jamo (as in BERT).
        string jamo = "한국어".Normalize(System.Text.NormalizationForm.FormD) is var d && d != "한국어" ? d : "\u1112\u1161\u11AB\u1100\u116E\u11A8\u110B\u1165";
        var t = Tokenizer.CreateWordPiece(Vocab("[UNK]", "你", "好", "world", jamo, "テキスト"));
        Tokens(t, "你好world").ShouldBe(["你", "好", "world"]);
        Tokens(t, "한국어 テキスト").ShouldBe([jamo, "テキスト"]);
        var cased = Tokenizer.CreateWordPiece(Vocab("[UNK]", "한국어"), lowercase: false);
        Tokens(cased, "한국어").ShouldBe(["한국어"]);
    }

    [Fact]
    public void Punctuation_IsIsolated_AsciiSymbolsIncluded()
    {
        var t = Tokenizer.CreateWordPiece(Vocab("[UNK]", "a", "b", ".", "$", "^", "`", "~", "«", "»", "¿"));
        Tokens(t, "a.b$a^b`a~b").ShouldBe(["a", ".", "b", "$", "a", "^", "b", "`", "a", "~", "b"]);
        Tokens(t, "«a» ¿b").ShouldBe(["«", "a", "»", "¿", "b"]);
    }

    [Fact]
    public void UnknownAndOverlongWords_BecomeUnk()
    {
        var t = Tokenizer.CreateWordPiece(Vocab("[UNK]", "a", "##a"));
        Tokens(t, new string('a', 100)).Length.ShouldBe(100);
        Tokens(t, new string('a', 101)).ShouldBe(["[UNK]"]);
        Tokens(t, "a b a").ShouldBe(["a", "[UNK]", "a"]);
    }

    [Fact]
    public void ControlCharacters_AreDropped_SpecialTokensKept()
    {
        var t = Tokenizer.CreateWordPiece(Vocab("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"));
        Tokens(t, "a\u0000\u0001\uFFFDb").ShouldBe(["[UNK]"]); // "ab" after cleaning, not in the vocabulary
        Tokens(t, "a\u0000 b").ShouldBe(["a", "b"]);
        Tokens(t, "[CLS] a [MASK] b[SEP]").ShouldBe(["[CLS]", "a", "[MASK]", "b", "[SEP]"]);
        Tokens(t, "[cls]").ShouldBe(["[UNK]", "[UNK]", "[UNK]"]); // not the special token: "[", "cls", "]"
    }

    [Fact]
    public void Decode_GluesContinuationsAndCleansUp()
    {
        var t = Tokenizer.CreateWordPiece(Vocab("[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##want", "##ed", ",", "runn", "##ing", "."));
        int[] ids = t.Encode("unwanted, running.");
        t.Decode(ids).ShouldBe("unwanted, running.");
        t.Decode([2, .. ids, 3], skipSpecialTokens: false).ShouldBe("[CLS] unwanted, running. [SEP]");
    }

    [Fact]
    public void EncodeForModel_SinglePairTruncationPadding()
    {
        var t = Tokenizer.CreateWordPiece(Vocab("[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b", "c", "d"));
        var single = t.EncodeForModel("a b", maxLength: 8, padToMaxLength: true);
        single.InputIds.ShouldBe([2, 4, 5, 3, 0, 0, 0, 0]);
        single.TypeIds.ShouldBe([0, 0, 0, 0, 0, 0, 0, 0]);
        single.AttentionMask.ShouldBe([1, 1, 1, 1, 0, 0, 0, 0]);

        var pair = t.EncodeForModel("a b", "c d");
        pair.InputIds.ShouldBe([2, 4, 5, 3, 6, 7, 3]);
        pair.TypeIds.ShouldBe([0, 0, 0, 0, 1, 1, 1]);
        pair.AttentionMask.ShouldAllBe(m => m == 1);

        // Longest first: "a a a a a" (5) and "b" (1) into 8 - 3 = 5 ids: the first loses one.
        t.EncodeForModel("a a a a a", "b", maxLength: 8).InputIds.ShouldBe([2, 4, 4, 4, 4, 3, 5, 3]);
        // Both long: trimmed to equal lengths, the pair losing first on ties.
        t.EncodeForModel("a a a a", "b b b b", maxLength: 8).InputIds.ShouldBe([2, 4, 4, 4, 3, 5, 5, 3]);
        t.EncodeForModel("a a a a a", maxLength: 4).InputIds.ShouldBe([2, 4, 4, 3]);
        Should.Throw<ArgumentOutOfRangeException>(() => t.EncodeForModel("a", "b", maxLength: 4));
    }
}
