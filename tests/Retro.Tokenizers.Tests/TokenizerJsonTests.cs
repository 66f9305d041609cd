namespace Retro.Tokenizers.Tests;

public sealed class TokenizerJsonTests(TrainedTokenizerFixture fixture) : IClassFixture<TrainedTokenizerFixture>
{
    private const string BertJson = """
    {
      "version": "1.0",
      "truncation": null,
      "padding": null,
      "added_tokens": [
        {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
        {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
        {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
        {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
        {"id": 4, "content": "[MASK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
      ],
      "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
      "pre_tokenizer": {"type": "BertPreTokenizer"},
      "post_processor": {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                 {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
        "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}
      },
      "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
      "model": {
        "type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
        "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "the": 5, "cafe": 6, "is": 7, "open": 8, "!": 9, "re": 10, "##trieval": 11, "##s": 12}
      }
    }
    """;

    private const string Gpt2Json = """
    {
      "version": "1.0", "truncation": null, "padding": null,
      "added_tokens": [{"id": 262, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
      "normalizer": null,
      "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
      "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
      "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
      "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "", "end_of_word_suffix": "",
                "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": VOCAB, "merges": MERGES}
    }
    """;

    private static string Gpt2(string merges)
    {
        var vocab = new Dictionary<string, int>();
        foreach (char c in ByteLevelAlphabet.Characters) vocab[c.ToString()] = vocab.Count;
        foreach (string t in new[] { "Ġt", "he", "Ġthe", "in", "Ġin", "Ġthein" }) vocab[t] = vocab.Count;
        return Gpt2Json.Replace("VOCAB", System.Text.Json.JsonSerializer.Serialize(vocab)).Replace("MERGES", merges);
    }

    [Fact]
    public void HandWrittenBert_Loads()
    {
        var t = TokenizerLoader.FromJson(BertJson);
        t.VocabularySize.ShouldBe(13);
        t.IsByteLevel.ShouldBeFalse();
        t.Encode("The CAFÉ retrievals is open!").ShouldBe([5, 6, 10, 11, 12, 7, 8, 9]);
        var input = t.EncodeForModel("the cafe", "is open", maxLength: 10, padToMaxLength: true);
        input.InputIds.ShouldBe([2, 5, 6, 3, 7, 8, 3, 0, 0, 0]);
        input.TypeIds.ShouldBe([0, 0, 0, 0, 1, 1, 1, 0, 0, 0]);
        input.AttentionMask.ShouldBe([1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
        t.Decode([2, 10, 11, 12, 9, 3]).ShouldBe("retrievals!");
    }

    [Theory]
    [InlineData("""["Ġ t", "h e", "Ġt he", "i n", "Ġ in", "Ġthe in"]""")]
    [InlineData("""[["Ġ", "t"], ["h", "e"], ["Ġt", "he"], ["i", "n"], ["Ġ", "in"], ["Ġthe", "in"]]""")]
    public void HandWrittenGpt2_Loads_WithBothMergeFormats(string merges)
    {
        var t = TokenizerLoader.FromJson(Gpt2(merges));
        t.IsByteLevel.ShouldBeTrue();
        t.Encode("in the thein<|endoftext|>").Select(id => t.IdToToken(id)).ShouldBe(["in", "Ġthe", "Ġthein", "<|endoftext|>"]);
        t.Decode(t.Encode("in the thein<|endoftext|>")).ShouldBe("in the thein");
        // Written back with the same components and settings.
        using var written = System.Text.Json.JsonDocument.Parse(t.ToJson());
        using var original = System.Text.Json.JsonDocument.Parse(Gpt2(merges));
        foreach (string part in new[] { "pre_tokenizer", "post_processor", "decoder", "added_tokens" })
            written.RootElement.GetProperty(part).GetRawText().Replace(" ", "").Replace("\n", "").ShouldBe(
                original.RootElement.GetProperty(part).GetRawText().Replace(" ", "").Replace("\n", ""), part);
    }

    [Fact]
    public void IgnoreMerges_TakesWholeWordsFromTheVocabulary()
    {
        // No ("Ġthe", "in") merge, but "Ġthein" is in the vocabulary.
        string json = Gpt2("""[["Ġ", "t"], ["h", "e"], ["Ġt", "he"], ["i", "n"]]""");
        var withMerges = TokenizerLoader.FromJson(json);
        var ignoring = TokenizerLoader.FromJson(json.Replace("\"ignore_merges\": false", "\"ignore_merges\": true"));
        withMerges.Encode(" thein").Select(id => withMerges.IdToToken(id)).ShouldBe(["Ġthe", "in"]);
        ignoring.Encode(" thein").Select(id => ignoring.IdToToken(id)).ShouldBe(["Ġthein"]);
        ignoring.Encode(" then").Select(id => ignoring.IdToToken(id)).ShouldBe(["Ġthe", "n"]);
    }

    [Fact]
    public void WriteThenLoad_RoundTrips_Bert()
    {
        var t = TokenizerLoader.FromJson(BertJson);
        string written = t.ToJson();
        var back = TokenizerLoader.FromJson(written);
        back.ToJson().ShouldBe(written);
        back.EncodeForModel("The café", "is open!").ShouldBeEquivalentTo(t.EncodeForModel("The café", "is open!"));
        written.ShouldContain("\"type\": \"WordPiece\"");
        written.ShouldContain("\"type\": \"BertNormalizer\"");
    }

    [Fact]
    public void WriteThenLoad_RoundTrips_TrainedBpe()
    {
        var t = fixture.Tokenizer;
        string dir = Directory.CreateTempSubdirectory("retro-tok-").FullName;
        try
        {
            string path = Path.Combine(dir, "tokenizer.json");
            t.Save(path);
            var back = TokenizerLoader.FromFolder(dir);
            back.ToJson().ShouldBe(t.ToJson());
            foreach (string text in TestData.Hostile.Concat(TestData.AllTexts.Take(200))) back.Encode(text).ShouldBe(t.Encode(text));
            back.VocabularySize.ShouldBe(t.VocabularySize);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData("\"type\": \"WordPiece\", \"unk_token\"", "\"type\": \"Unigram\", \"unk_token\"", "model 'Unigram'")]
    [InlineData("\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}", "\"pre_tokenizer\": {\"type\": \"Metaspace\"}", "pre_tokenizer 'Metaspace'")]
    [InlineData("\"normalizer\": {\"type\": \"BertNormalizer\"", "\"normalizer\": {\"type\": \"Precompiled\"", "normalizer 'Precompiled'")]
    [InlineData("\"decoder\": {\"type\": \"WordPiece\"", "\"decoder\": {\"type\": \"Metaspace\"", "decoder 'Metaspace'")]
    [InlineData("\"post_processor\": {\n    \"type\": \"TemplateProcessing\"", "\"post_processor\": {\n    \"type\": \"Weird\"", "post_processor 'Weird'")]
    public void UnsupportedComponents_FailNamingThem(string find, string replace, string expected)
    {
        string json = BertJson.Replace("\r\n", "\n");
        json.ShouldContain(find);
        var error = Should.Throw<TokenizerFormatException>(() => TokenizerLoader.FromJson(json.Replace(find, replace), "my.json"));
        error.Message.ShouldContain(expected);
        error.Message.ShouldContain("my.json");
    }

    [Fact]
    public void ByteFallback_IsRejected()
    {
        var error = Should.Throw<TokenizerFormatException>(() =>
            TokenizerLoader.FromJson(Gpt2("[]").Replace("\"byte_fallback\": false", "\"byte_fallback\": true")));
        error.Message.ShouldContain("byte_fallback");
    }

    [Fact]
    public void MalformedJson_FailsWithFormatException()
    {
        Should.Throw<TokenizerFormatException>(() => TokenizerLoader.FromJson("{not json"));
        Should.Throw<TokenizerFormatException>(() => TokenizerLoader.FromJson("{}")).Message.ShouldContain("model");
        Should.Throw<TokenizerFormatException>(() => TokenizerLoader.FromJson(Gpt2("""["Ġ t", "x y"]"""))).Message.ShouldContain("merge 1");
    }

    [Fact]
    public void VocabTxt_LoadsAsBert()
    {
        string dir = Directory.CreateTempSubdirectory("retro-vocab-").FullName;
        try
        {
            File.WriteAllLines(Path.Combine(dir, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s"]);
            var t = TokenizerLoader.FromFolder(dir);
            t.EncodeForModel("Hello worlds").InputIds.ShouldBe([2, 5, 6, 7, 3]);
            t.PadId.ShouldBe(0);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Normalizers_Sequence_NfkcLowercase_WithOffsets()
    {
        string json = BertJson.Replace(
            "\"normalizer\": {\"type\": \"BertNormalizer\", \"clean_text\": true, \"handle_chinese_chars\": true, \"strip_accents\": null, \"lowercase\": true}",
            "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFKC\"}, {\"type\": \"Lowercase\"}]}");
        var t = TokenizerLoader.FromJson(json.Replace("\"cafe\": 6", "\"café\": 6").Replace("\"open\": 8", "\"fi\": 8"));
        // NFKC: "ﬁ" → "fi"; "e" + U+0301 → "é".
        string text = "THE CAFE\u0301 ﬁ";
        var tokens = t.EncodeWithOffsets(text);
        tokens.Select(x => x.Id).ShouldBe([5, 6, 8]);
        tokens.Select(x => text[x.Offsets]).ShouldBe(["THE", "CAFE\u0301", "ﬁ"]);
    }

    [Fact]
    public void TemplateAsString_IsAccepted()
    {
        string json = BertJson.Replace("\"single\": [{\"SpecialToken\": {\"id\": \"[CLS]\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"[SEP]\", \"type_id\": 0}}]",
            "\"single\": \"[CLS] $A [SEP]\"");
        json.ShouldContain("\"single\": \"[CLS] $A [SEP]\"");
        TokenizerLoader.FromJson(json).EncodeForModel("the").InputIds.ShouldBe([2, 5, 3]);
    }
}
