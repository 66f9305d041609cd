using System.Text;

namespace Retro.Tokenizers.Tests;

public sealed class ByteLevelBpeTests(TrainedTokenizerFixture fixture) : IClassFixture<TrainedTokenizerFixture>
{
    private readonly Tokenizer _tokenizer = fixture.Tokenizer;

    [Fact]
    public void ByteTable_MatchesGpt2()
    {
        ByteLevelAlphabet.ByteToChar(32).ShouldBe('\u0120'); // 'Ġ'
        ByteLevelAlphabet.ByteToChar(10).ShouldBe('\u010A'); // 'Ċ'
        ByteLevelAlphabet.ByteToChar(0).ShouldBe('\u0100');
        ByteLevelAlphabet.ByteToChar((byte)'!').ShouldBe('!');
        ByteLevelAlphabet.ByteToChar((byte)'~').ShouldBe('~');
        ByteLevelAlphabet.ByteToChar(127).ShouldBe('\u0121');
        ByteLevelAlphabet.ByteToChar(0xA1).ShouldBe('¡');
        ByteLevelAlphabet.ByteToChar(0xAD).ShouldBe('\u0143'); // soft hyphen is the last remapped byte
        ByteLevelAlphabet.ByteToChar(0xFF).ShouldBe('ÿ');
        var seen = new HashSet<char>();
        for (int b = 0; b < 256; b++)
        {
            char c = ByteLevelAlphabet.ByteToChar((byte)b);
            seen.Add(c).ShouldBeTrue();
            ByteLevelAlphabet.CharToByte(c).ShouldBe(b);
        }
        ByteLevelAlphabet.CharToByte('a').ShouldBe('a');
        ByteLevelAlphabet.CharToByte('\u0144').ShouldBe(-1);
        ByteLevelAlphabet.CharToByte(' ').ShouldBe(-1);
    }

    [Fact]
    public void RoundTrip_AllDevelopmentData()
    {
        var texts = TestData.AllTexts;
        long chars = 0;
        foreach (string text in texts)
        {
            int[] ids = _tokenizer.Encode(text);
            string decoded = _tokenizer.Decode(ids);
            if (decoded != text) decoded.ShouldBe(text, $"round trip failed for a text of {text.Length} chars");
            chars += text.Length;
        }
        chars.ShouldBeGreaterThan(8_000_000);
    }

    [Fact]
    public void RoundTrip_HostileStrings()
    {
        foreach (string text in TestData.Hostile)
        {
            _tokenizer.Decode(_tokenizer.Encode(text), skipSpecialTokens: false).ShouldBe(text);
        }
    }

    [Fact]
    public void SpecialTokens_AreMatchedFirstAndNeverSplit()
    {
        int eos = _tokenizer.TokenToId("<|endoftext|>")!.Value;
        int pad = _tokenizer.TokenToId("<pad>")!.Value;
        int[] ids = _tokenizer.Encode("Hello<|endoftext|><pad> world<|endoftext|>");
        ids.Count(i => i == eos).ShouldBe(2);
        ids.Count(i => i == pad).ShouldBe(1);
        ids[^1].ShouldBe(eos);
        _tokenizer.Decode(ids).ShouldBe("Hello world");
        _tokenizer.Decode(ids, skipSpecialTokens: false).ShouldBe("Hello<|endoftext|><pad> world<|endoftext|>");
        // A partial special token is ordinary text.
        _tokenizer.Encode("<|endoftext").ShouldNotContain(eos);
        // Untrusted text: special tokens are not matched.
        int[] ordinary = _tokenizer.EncodeOrdinary("Hello<|endoftext|>");
        ordinary.ShouldNotContain(eos);
        _tokenizer.Decode(ordinary).ShouldBe("Hello<|endoftext|>");
    }

    [Fact]
    public void LoneSurrogates_EncodeAsReplacementCharacter()
    {
        // Round trip holds for valid UTF-16 only: a lone surrogate is encoded as U+FFFD's UTF-8 bytes.
        _tokenizer.Decode(_tokenizer.Encode("a\uD83Db")).ShouldBe("a\uFFFDb");
        _tokenizer.Decode(_tokenizer.Encode("\uDE00x\uD800")).ShouldBe("\uFFFDx\uFFFD");
        _tokenizer.Encode("a\uD83Db").ShouldBe(_tokenizer.Encode("a\uFFFDb"));
    }

    [Fact]
    public void Decode_IdsSplittingACharacter_GivesReplacementCharacterOnlyThere()
    {
        // '😀' is 4 bytes; with no merge for them each byte is its own token.
        int[] ids = _tokenizer.Encode("x😀y");
        _tokenizer.Decode(ids).ShouldBe("x😀y");
        int emojiStart = 1;
        int emojiTokens = ids.Length - 2;
        emojiTokens.ShouldBeGreaterThan(1);
        string partial = _tokenizer.Decode(ids.AsSpan(0, emojiStart + 1));
        partial.ShouldStartWith("x");
        partial.ShouldEndWith("\uFFFD");
        partial.Length.ShouldBe(2);
    }

    [Fact]
    public void OneMegabyteWord_EncodesAndRoundTrips()
    {
        var random = new Random(7);
        var sb = new StringBuilder(1 << 20);
        while (sb.Length < 1 << 20) sb.Append((char)('a' + random.Next(26)));
        string word = sb.ToString();
        int[] ids = _tokenizer.Encode(word);
        ids.Length.ShouldBeLessThan(word.Length);
        _tokenizer.Decode(ids).ShouldBe(word);

        string same = string.Concat(Enumerable.Repeat("the", 1 << 18));
        int[] sameIds = _tokenizer.Encode(same);
        sameIds.Length.ShouldBeLessThan(same.Length / 2);
        _tokenizer.Decode(sameIds).ShouldBe(same);
    }

    [Fact]
    public void Offsets_SliceTheSourceText()
    {
        foreach (string text in TestData.Hostile.Concat(TestData.AllTexts.Take(100)))
        {
            var tokens = _tokenizer.EncodeWithOffsets(text);
            tokens.Select(t => t.Id).ShouldBe(_tokenizer.Encode(text));
            int covered = 0;
            foreach (var (id, range) in tokens)
            {
                var (start, length) = range.GetOffsetAndLength(text.Length);
                length.ShouldBeGreaterThan(0);
                start.ShouldBeLessThanOrEqualTo(covered); // never skips text
                covered = Math.Max(covered, start + length);
                string token = _tokenizer.Decode([id], skipSpecialTokens: false);
                if (!token.Contains('\uFFFD')) token.ShouldBe(text.Substring(start, length));
            }
            covered.ShouldBe(text.Length);
        }
    }

    [Fact]
    public void Offsets_OfTokensSplittingACharacter_CoverTheWholeCharacter()
    {
        string text = "a👩‍👩‍👧‍👦";
        foreach (var (_, range) in _tokenizer.EncodeWithOffsets(text))
        {
            var (start, length) = range.GetOffsetAndLength(text.Length);
            char.IsLowSurrogate(text[start]).ShouldBeFalse();
            if (start + length < text.Length) char.IsLowSurrogate(text[start + length]).ShouldBeFalse();
        }
    }

    [Fact]
    public void EncodeIntoSpan_ReportsNeededLengthWhenTooSmall()
    {
        string text = "The quick brown fox jumps over the lazy dog.";
        int[] expected = _tokenizer.Encode(text);
        var small = new int[2];
        _tokenizer.Encode(text, small).ShouldBe(-expected.Length);
        var exact = new int[expected.Length];
        _tokenizer.Encode(text, exact).ShouldBe(expected.Length);
        exact.ShouldBe(expected);
    }

    [Fact]
    public void Encode_IsThreadSafe()
    {
        var texts = TestData.AllTexts.Take(400).ToArray();
        var expected = texts.Select(_tokenizer.Encode).ToArray();
        var results = new int[texts.Length][];
        Parallel.For(0, texts.Length * 4, i => results[i % texts.Length] = _tokenizer.Encode(texts[i % texts.Length]));
        for (int i = 0; i < texts.Length; i++) results[i].ShouldBe(expected[i]);
    }

    [Fact]
    public void TokenLookups_AreConsistent()
    {
        _tokenizer.VocabularySize.ShouldBe(TrainedTokenizerFixture.Specials.Length + 256 + TrainedTokenizerFixture.Merges);
        for (int id = 0; id < _tokenizer.VocabularySize; id++)
        {
            string token = _tokenizer.IdToToken(id).ShouldNotBeNull();
            _tokenizer.TokenToId(token).ShouldBe(id);
        }
        _tokenizer.IdToToken(_tokenizer.VocabularySize).ShouldBeNull();
        _tokenizer.IdToToken(-1).ShouldBeNull();
        _tokenizer.TokenToId("no such token ever").ShouldBeNull();
        Should.Throw<ArgumentOutOfRangeException>(() => _tokenizer.Decode([_tokenizer.VocabularySize]));
    }
}
