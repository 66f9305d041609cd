using Microsoft.Data.Sqlite;
using Retro.Core;
using Retro.Core.Text;

namespace Retro.VectorStore.Tests;

/// <summary>The embedded store's BM25 index: hand-computed scores, filters, updates, deletes, restart, concurrency.</summary>
public sealed class TextSearchTests : IDisposable
{
    private const int Dim = 4;
    private readonly string _directory = Directory.CreateTempSubdirectory("retro-text-").FullName;
    private static readonly CollectionSpec Spec = new() { Name = "t", Dimension = Dim, M = 8, EfConstruction = 32 };

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private static VectorPoint Point(string document, string text, int ordinal = 0, Dictionary<string, string>? metadata = null)
    {
        var chunk = new Chunk(ChunkId.From(document, ordinal), document, "", ordinal, text, [1], "", [], metadata ?? []);
        return new VectorPoint(chunk, new float[] { 1, ordinal + 1, document.Length, 0.5f });
    }

    // |d0| = 3, |d1| = 2, |d2| = 4: N = 3, avgdl = 3.
    private static readonly VectorPoint[] Corpus =
    [
        Point("d0", "Apple banana APPLE", metadata: new() { ["lang"] = "en" }),
        Point("d1", "banana, cherry!", metadata: new() { ["lang"] = "fr" }),
        Point("d2", "cherry date elderberry fig", metadata: new() { ["lang"] = "en" }),
    ];

    private static async Task<SearchHit[]> SearchAsync(ITextSearch store, string query, SearchOptions? options = null)
    {
        var hits = new SearchHit[10];
        int n = await store.SearchTextAsync(query, options ?? new SearchOptions { Limit = 10 }, hits);
        return hits[..n];
    }

    [Fact]
    public async Task Scores_match_hand_computed_bm25()
    {
        await using var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        await store.UpsertAsync(Corpus);

        var hits = await SearchAsync(store, "apple cherry");

        // apple: df 1, idf = ln(1 + 2.5/1.5) = 0.980829; cherry: df 2, idf = ln(1 + 1.5/2.5) = 0.470004.
        // d0: apple tf 2, |d| 3: 0.980829 · 2·2.2 / (2 + 1.2·(0.25 + 0.75·3/3)) = 0.980829 · 1.375 = 1.348640
        // d1: cherry tf 1, |d| 2: 0.470004 · 2.2 / (1 + 1.2·(0.25 + 0.75·2/3)) = 0.470004 · 1.157895 = 0.544215
        // d2: cherry tf 1, |d| 4: 0.470004 · 2.2 / (1 + 1.2·(0.25 + 0.75·4/3)) = 0.470004 · 0.88 = 0.413604
        hits.Select(h => h.Id).ShouldBe([Corpus[0].Id, Corpus[1].Id, Corpus[2].Id]);
        hits.Select(h => h.Score).ShouldBe([1.348640f, 0.544215f, 0.413604f], 1e-5f);
        (await SearchAsync(store, "no such words")).ShouldBeEmpty();
        (await SearchAsync(store, "  ,, ")).ShouldBeEmpty();
    }

    [Fact]
    public async Task Titles_are_a_weighted_bm25_field_and_round_trip_with_the_chunk()
    {
        await using var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        var titled = Point("compiler", "A program that translates source code.", ordinal: 3) is var p
            ? p with { Chunk = p.Chunk with { Title = "compiler" } } : null!;
        var mention = Point("yacc", "Yet another compiler compiler generator tool.");
        await store.UpsertAsync([titled, mention, .. Corpus]);

        // BM25F, title weight 3: "compiler" counts 3 times in the titled chunk, whose length is 3·1 + 6 = 9 terms.
        // N = 5, df 2: idf = ln(1 + 3.5/2.5) = 0.875469; avgdl = (9 + 6 + 3 + 2 + 4) / 5 = 4.8.
        // titled: 0.875469 · 3·2.2 / (3 + 1.2·(0.25 + 0.75·9/4.8)) = 0.875469 · 1.323308 = 1.158515
        // yacc:   0.875469 · 2·2.2 / (2 + 1.2·(0.25 + 0.75·6/4.8)) = 0.875469 · 1.284672 = 1.124690
        var hits = await SearchAsync(store, "compiler");
        hits.Select(h => h.Id).ShouldBe([titled.Id, mention.Id]);
        hits.Select(h => h.Score).ShouldBe([1.158515f, 1.124690f], 1e-5f);
        (await SearchAsync(store, "translates")).Single().Id.ShouldBe(titled.Id);
        (await store.GetChunksAsync([titled.Id, mention.Id])).Select(c => c!.Title).ShouldBe(["compiler", ""]);
    }

    [Fact]
    public async Task A_store_written_before_titles_opens_and_keeps_its_chunks_untitled()
    {
        await using (var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec)) await store.UpsertAsync(Corpus);
        string db = Directory.GetFiles(_directory, "*.db", SearchOption.AllDirectories).Single(f => !f.Contains("indexer"));
        using (var connection = new SqliteConnection($"Data Source={db};Pooling=False"))
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "ALTER TABLE points DROP COLUMN title";
            cmd.ExecuteNonQuery();
        }
        await using (var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec))
        {
            (await store.GetChunksAsync([Corpus[1].Id])).Single()!.Title.ShouldBe("");
            (await SearchAsync(store, "apple cherry")).Select(h => h.Id).ShouldBe([Corpus[0].Id, Corpus[1].Id, Corpus[2].Id]);
            var titled = Corpus[2] with { Chunk = Corpus[2].Chunk with { Title = "fruit" } };
            await store.UpsertAsync([titled]);
            (await SearchAsync(store, "fruit")).Single().Id.ShouldBe(titled.Id);
        }
    }

    [Fact]
    public async Task A_repeated_query_term_counts_twice_and_k1_b_come_from_the_spec()
    {
        var spec = Spec with { Bm25 = new Bm25Options { K1 = 2f, B = 0f } };
        await using var store = await EmbeddedVectorStore.OpenAsync(_directory, spec);
        await store.UpsertAsync(Corpus);
        // b = 0: no length normalisation; d1: cherry tf 1: 0.470004 · 3 / (1 + 2) = 0.470004, twice for "cherry cherry".
        var hits = await SearchAsync(store, "cherry cherry", new SearchOptions { Limit = 10, OnlyDocuments = ["d1"] });
        hits.Single().Score.ShouldBe(2 * 0.470004f, 1e-5f);
    }

    [Fact]
    public async Task Filters_apply_to_the_sparse_side()
    {
        await using var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        await store.UpsertAsync(Corpus);

        (await SearchAsync(store, "apple cherry", new SearchOptions { ExcludeDocument = "d0" })).Select(h => h.Id).ShouldBe([Corpus[1].Id, Corpus[2].Id]);
        (await SearchAsync(store, "apple cherry", new SearchOptions { OnlyDocuments = ["d2", "nope"] })).Select(h => h.Id).ShouldBe([Corpus[2].Id]);
        (await SearchAsync(store, "apple cherry", new SearchOptions { OnlyDocuments = ["nope"] })).ShouldBeEmpty();
        (await SearchAsync(store, "apple cherry", new SearchOptions { MetadataEquals = new Dictionary<string, string> { ["lang"] = "en" } }))
            .Select(h => h.Id).ShouldBe([Corpus[0].Id, Corpus[2].Id]);
        (await SearchAsync(store, "apple cherry", new SearchOptions { Limit = 1 })).Select(h => h.Id).ShouldBe([Corpus[0].Id]);
        await Should.ThrowAsync<ArgumentOutOfRangeException>(async () => await SearchAsync(store, "apple", new SearchOptions { Limit = 0 }));
    }

    [Fact]
    public async Task Reopening_gives_the_same_results_without_reindexing()
    {
        SearchHit[] before;
        await using (var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec))
        {
            await store.UpsertAsync(Corpus);
            before = await SearchAsync(store, "apple cherry banana");
        }

        await using var reopened = await EmbeddedVectorStore.OpenAsync(_directory, Spec);

        reopened.LastOpenReport!.TextsIndexed.ShouldBe(0);
        reopened.LastOpenReport.Postings.ShouldBe(3 + 2 + 4 - 1); // d0 has 2 distinct terms
        (await SearchAsync(reopened, "apple cherry banana")).ShouldBe(before);
    }

    [Fact]
    public async Task Delete_by_document_removes_its_postings_and_updates_the_statistics()
    {
        await using (var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec))
        {
            await store.UpsertAsync(Corpus);
            store.PostingRows().ShouldBe(8);
            (await store.DeleteDocumentAsync("d0")).ShouldBe(1);

            store.PostingRows().ShouldBe(6);
            (await SearchAsync(store, "apple")).ShouldBeEmpty();
            // N = 2, avgdl = 3; cherry df 2: idf = ln(1 + 0.5/2.5) = 0.182322; d1: 0.182322 · 1.157895 = 0.211110
            var hits = await SearchAsync(store, "cherry");
            hits[0].Id.ShouldBe(Corpus[1].Id);
            hits[0].Score.ShouldBe(0.211110f, 1e-5f);
        }
        await using var reopened = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        (await SearchAsync(reopened, "apple")).ShouldBeEmpty();
        (await SearchAsync(reopened, "cherry"))[0].Score.ShouldBe(0.211110f, 1e-5f);
    }

    [Fact]
    public async Task Upserting_a_changed_chunk_replaces_its_postings_and_an_unchanged_one_changes_nothing()
    {
        await using var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        await store.UpsertAsync(Corpus);
        await store.UpsertAsync(Corpus);
        store.PostingRows().ShouldBe(8);

        await store.UpsertAsync([Point("d0", "grape")]);

        store.PostingRows().ShouldBe(7);
        (await SearchAsync(store, "apple")).ShouldBeEmpty();
        (await SearchAsync(store, "grape")).Single().Id.ShouldBe(Corpus[0].Id);
    }

    [Fact]
    public async Task A_collection_without_postings_is_indexed_once_on_open()
    {
        SearchHit[] before;
        await using (var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec))
        {
            await store.UpsertAsync(Corpus);
            before = await SearchAsync(store, "apple cherry");
        }
        // A database written before the text index existed: no postings, no document terms.
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(_directory, "t", StoreFiles.Database)};Pooling=False"))
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "DELETE FROM postings; DELETE FROM doc_terms;";
            cmd.ExecuteNonQuery();
        }

        await using (var upgraded = await EmbeddedVectorStore.OpenAsync(_directory, Spec))
        {
            upgraded.LastOpenReport!.TextsIndexed.ShouldBe(3);
            (await SearchAsync(upgraded, "apple cherry")).ShouldBe(before);
        }
        await using var again = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        again.LastOpenReport!.TextsIndexed.ShouldBe(0);
    }

    [Fact]
    public async Task Changing_the_analysis_of_an_existing_collection_is_a_conflict_but_k1_and_b_may_change()
    {
        await using (var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec)) await store.UpsertAsync(Corpus);

        var e = await Should.ThrowAsync<InvalidOperationException>(async () =>
            await EmbeddedVectorStore.OpenAsync(_directory, Spec with { Bm25 = new Bm25Options { Stemming = true } }));
        e.Message.ShouldContain("stemming");

        await using var reopened = await EmbeddedVectorStore.OpenAsync(_directory, Spec with { Bm25 = new Bm25Options { K1 = 2f, B = 0f } });
        reopened.Collection.Bm25.K1.ShouldBe(2f);
        (await SearchAsync(reopened, "cherry", new SearchOptions { OnlyDocuments = ["d1"] })).Single().Score.ShouldBe(0.470004f, 1e-5f);
    }

    [Fact]
    public async Task Stop_words_and_stemming_apply_to_documents_and_queries()
    {
        var spec = Spec with { Bm25 = new Bm25Options { StopWords = true, Stemming = true } };
        await using var store = await EmbeddedVectorStore.OpenAsync(_directory, spec);
        await store.UpsertAsync([Point("a", "the ponies of the valley"), Point("b", "a pony and the cat")]);
        (await SearchAsync(store, "pony")).Length.ShouldBe(2);
        (await SearchAsync(store, "the of and")).ShouldBeEmpty();
    }

    [Fact]
    public async Task Searches_run_while_ingesting()
    {
        await using var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        using var done = new CancellationTokenSource();
        int searches = 0;
        var reader = Task.Run(async () =>
        {
            do
            {
                var hits = await SearchAsync(store, "common word");
                hits.ShouldAllBe(h => h.Score > 0);
                searches++;
            }
            while (!done.IsCancellationRequested);
        });
        for (int batch = 0; batch < 40; batch++)
        {
            var points = Enumerable.Range(0, 10).Select(i => Point("doc" + batch, $"common word number {batch * 10 + i}", i)).ToArray();
            await store.UpsertAsync(points);
        }
        await done.CancelAsync();
        await reader;
        var all = new SearchHit[1000];
        (await store.SearchTextAsync("common", new SearchOptions { Limit = 1000 }, all)).ShouldBe(400);
        searches.ShouldBeGreaterThan(0);
    }
}
