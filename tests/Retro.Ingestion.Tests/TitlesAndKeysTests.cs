using Microsoft.Data.Sqlite;
using Retro.Core;
using Retro.Core.Options;
using Retro.Ingestion.Chunking;
using Retro.Ingestion.State;
using Retro.Tokenizers;

namespace Retro.Ingestion.Tests;

/// <summary>Document titles (field, first line), chunks too poor to be retrieval keys, and the state that records them.</summary>
public sealed class TitlesAndKeysTests : FolderTests
{
    private static readonly ChunkingOptions Defaults = new();
    private static IReadOnlyDictionary<string, string> Fields(params (string Key, string Value)[] fields) => fields.ToDictionary(f => f.Key, f => f.Value);

    [Theory]
    [InlineData("compiler\n\n<programming> A program that converts another program.", "compiler")]
    [InlineData("  New Jersey \nA state.", "New Jersey")]
    [InlineData("Chapter 3: The Neighbour Encoder\nText follows.", "Chapter 3: The Neighbour Encoder")]
    [InlineData("This line is a whole sentence.\nMore text.", null)]          // ends with a period
    [InlineData("one two three four five six seven eight nine ten eleven twelve thirteen\nmore", null)] // > 12 words
    [InlineData("headword only", null)]                                      // nothing follows
    [InlineData("headword\n   \n", null)]                                    // only blank lines follow
    [InlineData("!\n\n<character> The character.", null)]                     // no letter or digit
    public void The_first_line_is_a_title_only_when_it_reads_as_one(string text, string? title)
        => DocumentTitles.Of(text, Fields(), Defaults).ShouldBe(title);

    [Fact]
    public void A_title_field_wins_and_both_sources_can_be_turned_off()
    {
        const string text = "headword\nbody text here";
        DocumentTitles.Of(text, Fields(("title", "  The   Real\tTitle ")), Defaults).ShouldBe("The Real Title");
        DocumentTitles.Of(text, Fields(("title", "   ")), Defaults).ShouldBe("headword"); // blank field: fall back
        DocumentTitles.Of(text, Fields(("name", "Named")), Defaults with { TitleField = "name" }).ShouldBe("Named");
        DocumentTitles.Of(text, Fields(("title", "T")), Defaults with { TitleField = "" }).ShouldBe("headword");
        DocumentTitles.Of(text, Fields(), Defaults with { TitleFromFirstLine = false }).ShouldBeNull();
        DocumentTitles.Of(text, Fields(("title", new string('x', 150) + " " + new string('y', 150))), Defaults).ShouldBe(new string('x', 150));
    }

    [Theory]
    [InlineData(".", 0)]
    [InlineData("(2000-11-15)", 0)]         // digits alone make no word
    [InlineData("?]\n\n(1998-09-17)", 0)]
    [InlineData("See {foo}.", 2)]
    [InlineData("x86 and café naïve", 4)]
    public void Words_need_a_letter(string text, int words) => DocumentTitles.CountWords(text, 100).ShouldBe(words);

    [Fact]
    public void Chunks_with_too_few_words_are_not_keys_but_stay_in_the_continuations()
    {
        // 64 tokens of prose, then a date stamp alone in the last chunk
        string prose = string.Join(' ', Enumerable.Repeat("the cat sat on the mat", 40));
        var tokens = TestFiles.DecoderTokenizer.Encode(prose);
        string body = TestFiles.DecoderTokenizer.Decode(tokens.AsSpan(0, 64 * 2 - 3));
        string text = "Cats\n" + body + "\n\n(1998-09-17)";
        var chunker = new DocumentChunker(TestFiles.DecoderTokenizer, Defaults);
        var all = new DocumentChunker(TestFiles.DecoderTokenizer, Defaults with { MinKeyWords = 0 }).Chunk("cats", null, text, Fields());
        var keys = chunker.Chunk("cats", null, text, Fields(), out int[] skipped);

        skipped.ShouldBe([all.Count - 1]);
        all[^1].Text.ShouldContain("1998");
        keys.Select(c => c.Ordinal).ShouldBe(Enumerable.Range(0, all.Count - 1));
        keys[^1].ContinuationTokens.ShouldBe(all[^1].Tokens); // the skipped chunk is still the continuation
        keys.ShouldAllBe(c => c.Title == "Cats");
        chunker.Chunk("x", null, "...\n\n;;", Fields(), out skipped).ShouldBeEmpty();
        skipped.ShouldBe([0]);
    }

    [Fact]
    public void State_records_skipped_ordinals_and_upgrades_a_version_1_file()
    {
        string folder = Dir["state"];
        using (var state = new IndexerState(folder))
        {
            state.AddDocuments([new DocumentRow("a", new byte[32], "s", 1, 3) { Skipped = [1, 4] }]);
            var row = state.FindById("a")!;
            row.Skipped.ShouldBe([1, 4]);
            row.StoredOrdinals().ShouldBe([0, 2, 3]);
            state.CountChunks().ShouldBe(3);
        }
        string v1 = Dir["v1"];
        Directory.CreateDirectory(v1);
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(v1, IndexerState.FileName)};Pooling=False"))
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = """
                CREATE TABLE documents (document_id TEXT PRIMARY KEY, text_hash BLOB NOT NULL UNIQUE, shard_key TEXT NOT NULL,
                    record INTEGER NOT NULL, chunks INTEGER NOT NULL);
                INSERT INTO documents VALUES ('old', zeroblob(32), 's', 1, 2);
                PRAGMA user_version = 1;
                """;
            cmd.ExecuteNonQuery();
        }
        using (var state = new IndexerState(v1))
        {
            var row = state.FindById("old")!;
            row.Skipped.ShouldBeEmpty();
            row.StoredOrdinals().ShouldBe([0, 1]);
        }
    }
}
