namespace Retro.Tokenizers.Tests;

public sealed class HandBuiltBpeTests
{
    // Vocabulary: the 256 byte characters, then merge results.
    private static Tokenizer Build(params (string Left, string Right)[] merges)
    {
        var vocab = new Dictionary<string, int>();
        foreach (char c in ByteLevelAlphabet.Characters) vocab[c.ToString()] = vocab.Count;
        foreach (var (l, r) in merges) vocab.TryAdd(l + r, vocab.Count);
        return Tokenizer.CreateByteLevelBpe(vocab, merges, [new AddedToken(vocab.Count, "<|endoftext|>")]);
    }

    private static string[] Tokens(Tokenizer t, string text) => t.Encode(text).Select(id => t.IdToToken(id)!).ToArray();

    [Fact]
    public void Merges_ApplyByRank_NotByPosition()
    {
        // "abc": with (a b) ranked first the result is "abc"; with (b c) first, (a b) can no longer apply.
        Tokens(Build(("a", "b"), ("ab", "c"), ("b", "c")), "abc").ShouldBe(["abc"]);
        Tokens(Build(("b", "c"), ("a", "b"), ("ab", "c")), "abc").ShouldBe(["a", "bc"]);
    }

    [Fact]
    public void Merges_EqualRank_LeftmostFirst()
    {
        Tokens(Build(("a", "a")), "aaa").ShouldBe(["aa", "a"]);
        Tokens(Build(("a", "a"), ("aa", "aa")), "aaaaa").ShouldBe(["aaaa", "a"]);
    }

    [Fact]
    public void SpaceIsPartOfTheFollowingWord()
    {
        var t = Build(("Ġ", "t"), ("h", "e"), ("Ġt", "he"));
        Tokens(t, "the the").ShouldBe(["t", "he", "Ġthe"]);
        Tokens(t, "the\nthe").ShouldBe(["t", "he", "Ċ", "t", "he"]);
        t.Decode(t.Encode("the the")).ShouldBe("the the");
    }

    [Fact]
    public void ByteCharacters_OfMultibyteText()
    {
        var t = Build();
        Tokens(t, "é").ShouldBe(["Ã", "©"]); // U+00E9 = C3 A9
        Tokens(t, " ").ShouldBe(["Ġ"]);
        Tokens(t, "\n").ShouldBe(["Ċ"]);
    }

    [Fact]
    public void Gpt2Files_LoadThroughTheFolderLoader()
    {
        string dir = Directory.CreateTempSubdirectory("retro-gpt2-").FullName;
        try
        {
            var vocab = new Dictionary<string, int>();
            foreach (char c in ByteLevelAlphabet.Characters) vocab[c.ToString()] = vocab.Count;
            vocab["Ġt"] = vocab.Count;
            vocab["<|endoftext|>"] = vocab.Count;
            File.WriteAllText(Path.Combine(dir, "vocab.json"), System.Text.Json.JsonSerializer.Serialize(vocab));
            File.WriteAllText(Path.Combine(dir, "merges.txt"), "#version: 0.2\nĠ t\n");
            var t = TokenizerLoader.FromFolder(dir);
            Tokens(t, "a t<|endoftext|>").ShouldBe(["a", "Ġt", "<|endoftext|>"]);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
