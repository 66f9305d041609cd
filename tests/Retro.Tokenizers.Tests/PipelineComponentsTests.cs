namespace Retro.Tokenizers.Tests;

/// <summary>Components of tokenizer.json beyond the BERT and GPT-2 presets.</summary>
public sealed class PipelineComponentsTests
{
    private static string Json(string preTokenizer, string model, string postProcessor = "null", string decoder = "null", string added = "[]") => $$"""
        {"version": "1.0", "truncation": null, "padding": null, "added_tokens": {{added}}, "normalizer": null,
         "pre_tokenizer": {{preTokenizer}}, "post_processor": {{postProcessor}}, "decoder": {{decoder}}, "model": {{model}}}
        """;

    private const string CharBpe = """
        {"type": "BPE", "dropout": null, "unk_token": "<unk>", "fuse_unk": FUSE, "byte_fallback": false,
         "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "l": 3, "o": 4, "w": 5, "e": 6, "r": 7, "lo": 8, "low": 9, "er": 10, "lower": 11, "!": 12},
         "merges": ["l o", "lo w", "e r", "low er"]}
        """;

    private static string[] Tokens(Tokenizer t, string text) => t.Encode(text).Select(id => t.IdToToken(id)!).ToArray();

    [Fact]
    public void WhitespacePreTokenizer_WithCharacterBpe_AndUnknowns()
    {
        var t = TokenizerLoader.FromJson(Json("""{"type": "Whitespace"}""", CharBpe.Replace("FUSE", "false")));
        t.IsByteLevel.ShouldBeFalse();
        Tokens(t, "lower low!!").ShouldBe(["lower", "low", "!", "!"]);
        Tokens(t, "lowxyz").ShouldBe(["low", "<unk>", "<unk>", "<unk>"]);
        var offsets = t.EncodeWithOffsets("lowxyz").Select(x => x.Offsets.GetOffsetAndLength(6)).ToArray();
        offsets.ShouldBe([(0, 3), (3, 1), (4, 1), (5, 1)]);
        var fused = TokenizerLoader.FromJson(Json("""{"type": "Whitespace"}""", CharBpe.Replace("FUSE", "true")));
        Tokens(fused, "lowxyz").ShouldBe(["low", "<unk>"]);
        fused.EncodeWithOffsets("lowxyz")[1].Offsets.GetOffsetAndLength(6).ShouldBe((3, 3));
        // Whitespace = \w+|[^\w\s]+: punctuation runs stay together.
        Tokens(t, "low!! er").ShouldBe(["low", "!", "!", "er"]);
    }

    [Fact]
    public void SequencePreTokenizer_AppliesEachToEveryPiece()
    {
        var t = TokenizerLoader.FromJson(Json("""{"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, {"type": "Whitespace"}]}""",
            CharBpe.Replace("FUSE", "false")));
        Tokens(t, "  lower!\tlow ").ShouldBe(["lower", "!", "low"]);
        TokenizerLoader.FromJson(t.ToJson()).ToJson().ShouldBe(t.ToJson());
    }

    [Fact]
    public void RobertaProcessing_AddsSentenceMarkers()
    {
        string post = """{"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 1], "trim_offsets": true, "add_prefix_space": false}""";
        string added = """[{"id": 1, "content": "<s>", "special": true}, {"id": 2, "content": "</s>", "special": true}]""";
        var t = TokenizerLoader.FromJson(Json("""{"type": "Whitespace"}""", CharBpe.Replace("FUSE", "false"), post, "null", added));
        t.EncodeForModel("low").InputIds.ShouldBe([1, 9, 2]);
        t.EncodeForModel("low", "er").InputIds.ShouldBe([1, 9, 2, 2, 10, 2]);
        t.ToJson().ShouldContain("\"RobertaProcessing\"");
        t.Decode([1, 9, 2]).ShouldBe("low");
        t.Decode([1, 9, 2], skipSpecialTokens: false).ShouldBe("<s> low </s>");
    }

    [Fact]
    public void AddedTokens_SingleWordAndStrip()
    {
        string added = """
            [{"id": 1, "content": "<s>", "special": true, "lstrip": true, "rstrip": true},
             {"id": 2, "content": "er", "special": false, "single_word": true}]
            """;
        var t = TokenizerLoader.FromJson(Json("""{"type": "WhitespaceSplit"}""", CharBpe.Replace("FUSE", "false"), "null", "null", added));
        var tokens = t.EncodeWithOffsets("low  <s>  er lower");
        tokens.Select(x => x.Id).ShouldBe([9, 1, 2, 11]);
        tokens[1].Offsets.GetOffsetAndLength(18).ShouldBe((3, 7)); // "  <s>  ": both sides stripped into the match
        // Inside a word "er" is not the single-word added token; "lower" comes from merges.
        t.Encode("lower").ShouldBe([11]);
    }

    [Fact]
    public void Loader_ReportsMissingFilesClearly()
    {
        Should.Throw<DirectoryNotFoundException>(() => TokenizerLoader.FromFolder("/nonexistent/retro/model"));
        string dir = Directory.CreateTempSubdirectory("retro-empty-").FullName;
        try
        {
            Should.Throw<FileNotFoundException>(() => TokenizerLoader.FromFolder(dir)).Message.ShouldContain("tokenizer.json");
            Should.Throw<FileNotFoundException>(() => TokenizerLoader.FromFile(Path.Combine(dir, "tokenizer.json")));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
