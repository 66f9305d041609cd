using Retro.Tokenizers.Training;

namespace Retro.Tokenizers.Tests;

public sealed class BpeTrainerTests(TrainedTokenizerFixture fixture) : IClassFixture<TrainedTokenizerFixture>
{
    private static Tokenizer Train(IEnumerable<string> docs, int merges, int threads = 2, params string[] specials)
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions
        {
            VocabularySize = specials.Length + 256 + merges, SpecialTokens = specials, MaxDegreeOfParallelism = threads,
        });
        trainer.Feed(docs);
        return trainer.Train();
    }

    [Fact]
    public void TwoRuns_WriteIdenticalFiles_WhateverTheThreadCount()
    {
        var docs = TrainedTokenizerFixture.TrainingSlice().Take(800).ToList();
        string first = Train(docs, 500, 2, "<|endoftext|>").ToJson();
        string second = Train(docs, 500, 1, "<|endoftext|>").ToJson();
        second.ShouldBe(first);
        // Feeding in two calls counts the same words.
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabularySize = 1 + 256 + 500, SpecialTokens = ["<|endoftext|>"] });
        trainer.Feed(docs.Take(300));
        trainer.Feed(docs.Skip(300));
        trainer.Train().ToJson().ShouldBe(first);
    }

    [Fact]
    public void SpecialTokens_GetTheFirstIds_ThenBytes()
    {
        var t = fixture.Tokenizer;
        t.TokenToId("<|endoftext|>").ShouldBe(0);
        t.TokenToId("<pad>").ShouldBe(1);
        t.AddedTokens.Select(a => (a.Id, a.Content, a.Special)).ShouldBe([(0, "<|endoftext|>", true), (1, "<pad>", true)]);
        t.IdToToken(2).ShouldBe("!"); // the smallest byte character
        var byteIds = Enumerable.Range(0, 256).Select(b => t.TokenToId(ByteLevelAlphabet.ByteToChar((byte)b).ToString())!.Value).ToList();
        byteIds.Order().ShouldBe(Enumerable.Range(2, 256));
    }

    [Fact]
    public void LearnsFrequentEnglishTokens()
    {
        var t = fixture.Tokenizer;
        fixture.Stats.Merges.ShouldBe(TrainedTokenizerFixture.Merges);
        fixture.Stats.UniqueWords.ShouldBeGreaterThan(10_000);
        foreach (string word in new[] { "Ġthe", "Ġand", "Ġof", "ing", "Ġto" }) t.TokenToId(word).ShouldNotBeNull(word);
        t.Encode(" the").Length.ShouldBe(1);
    }

    [Fact]
    public void SpecialTokensInTheCorpus_AreNotLearned()
    {
        var docs = Enumerable.Repeat("<|endoftext|>hello world<|endoftext|>", 50);
        var t = Train(docs, 50, 2, "<|endoftext|>");
        t.TokenToId("<|").ShouldBeNull();
        t.TokenToId("hello").ShouldNotBeNull();
        t.Encode("hello<|endoftext|>").ShouldBe([t.TokenToId("hello")!.Value, 0]);
    }

    [Fact]
    public void MinFrequency_StopsMerging()
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions { VocabularySize = 1000, SpecialTokens = [], MinFrequency = 3 });
        trainer.Feed(["aaa bb", "aaa bb", "aaa"]);
        var t = trainer.Train();
        // Words "aaa" ×3 and "Ġbb" ×2: (a, a) counts 6, then (aa, a) 3; (Ġ, b) and (b, b) only 2.
        trainer.Stats.Merges.ShouldBe(2);
        t.TokenToId("aaa").ShouldNotBeNull();
        t.TokenToId("Ġb").ShouldBeNull();
    }

    [Fact]
    public void MergeWord_ReportsPairChanges()
    {
        int[] s = [1, 1, 1, 1];
        var changes = new List<(long Pair, int Delta)>();
        BpeTrainer.MergeWord(s, 4, 1, 1, 9, changes).ShouldBe(2);
        s[..2].ShouldBe([9, 9]);
        var net = changes.GroupBy(c => c.Pair).ToDictionary(g => g.Key, g => g.Sum(c => c.Delta));
        net[(9L << 32) | 9].ShouldBe(1);
        net[(9L << 32) | 1].ShouldBe(0);

        int[] w = [1, 2, 3, 1, 2];
        changes.Clear();
        BpeTrainer.MergeWord(w, 5, 1, 2, 7, changes).ShouldBe(3);
        w[..3].ShouldBe([7, 3, 7]);
        changes.ShouldBe([((2L << 32) | 3, -1), ((7L << 32) | 3, 1), ((3L << 32) | 1, -1), ((3L << 32) | 7, 1)]);
    }

    [Fact]
    public void FeedFiles_ReadsJsonLinesAndPlainText()
    {
        string dir = Directory.CreateTempSubdirectory("retro-corpus-").FullName;
        try
        {
            string jsonl = Path.Combine(dir, "a.jsonl"), gz = Path.Combine(dir, "b.jsonl.gz"), txt = Path.Combine(dir, "c.txt");
            File.WriteAllLines(jsonl, ["{\"text\": \"hello world\", \"url\": \"u\"}", "{\"url\": \"no text\"}", ""]);
            using (var file = File.Create(gz))
            using (var zip = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Fastest))
            using (var w = new StreamWriter(zip)) w.WriteLine("{\"text\": \"hello again\"}");
            File.WriteAllLines(txt, ["plain line", "", "hello"]);
            CorpusReader.ReadDocuments(jsonl).ShouldBe(["hello world"]);
            CorpusReader.ReadDocuments(gz).ShouldBe(["hello again"]);
            CorpusReader.ReadDocuments(txt).ShouldBe(["plain line", "hello"]);
            var trainer = new BpeTrainer(new BpeTrainerOptions { VocabularySize = 300, SpecialTokens = [] });
            trainer.FeedFiles([jsonl, gz, txt]);
            trainer.Stats.Documents.ShouldBe(4);
            trainer.Stats.Utf8Bytes.ShouldBe(11 + 11 + 10 + 5);
            File.WriteAllText(jsonl, "{broken");
            Should.Throw<InvalidDataException>(() => CorpusReader.ReadDocuments(jsonl).ToList()).Message.ShouldContain("a.jsonl:1");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void InvalidOptions_Throw()
    {
        Should.Throw<ArgumentException>(() => new BpeTrainer(new BpeTrainerOptions { VocabularySize = 100 }));
        Should.Throw<ArgumentException>(() => new BpeTrainer(new BpeTrainerOptions { SpecialTokens = ["a", "a"] }));
        Should.Throw<ArgumentException>(() => new BpeTrainer(new BpeTrainerOptions { MinFrequency = 0 }));
    }
}
