using System.Text.Json;
using Retro.Core;
using Retro.Core.Options;
using Retro.Ingestion.Chunking;
using Retro.Ingestion.Pipeline;
using Retro.Ingestion.Reading;
using Retro.Ingestion.State;
using Retro.Tokenizers;

namespace Retro.Ingestion.Tests;

public sealed class PipelineTests : FolderTests
{
    private static async Task<IngestStats> Ingest(IVectorStore store, string stateFolder, IReadOnlyList<Shard> shards, ITextEncoder? encoder = null,
        IngestOptions? options = null, string? rejects = null, Action<Ingestor>? before = null)
    {
        using var ingestor = new Ingestor(store, encoder ?? new HashEncoder(), TestFiles.DecoderTokenizer, new ChunkingOptions(), stateFolder,
            options ?? new IngestOptions { BatchSize = 8, Parallelism = 3 }, rejects);
        before?.Invoke(ingestor);
        return await ingestor.RunAsync(shards);
    }

    private static Dictionary<ChunkId, string> Snapshot(MemoryStore store) => store.Points.ToDictionary(
        p => p.Key, p => JsonSerializer.Serialize(p.Value.Chunk) + string.Join(",", p.Value.Vector));

    /// <summary>Same point ids, payloads and vectors (reports the first difference, not both stores).</summary>
    private static void SameStore(MemoryStore actual, MemoryStore expected)
    {
        var a = Snapshot(actual);
        var e = Snapshot(expected);
        e.Keys.Except(a.Keys).ShouldBeEmpty("points missing");
        a.Keys.Except(e.Keys).ShouldBeEmpty("points extra");
        foreach (var (id, value) in e) a[id].ShouldBe(value, $"point {id}");
    }

    [Fact]
    public async Task Sample_documents_become_64_token_chunks_with_continuations_and_checkpoints()
    {
        string shard = TestFiles.WriteLines(Dir["in/a.jsonl"], TestFiles.SampleLines(120));
        var store = new MemoryStore();
        var stats = await Ingest(store, Dir["state"], ShardResolver.Resolve([shard]));

        stats.Documents.ShouldBe(120);
        stats.Chunks.ShouldBe(store.Points.Count);
        var chunks = store.Points.Values.Select(p => p.Chunk).ToList();
        var texts = TestFiles.SampleLines(120).Select(l => JsonDocument.Parse(l).RootElement)
            .ToDictionary(e => e.GetProperty("url").GetString()!, e => e.GetProperty("text").GetString()!);
        long skipped = 0;
        var byDocument = chunks.ToLookup(c => c.DocumentId);
        foreach (var doc in texts)
        {
            // the whole token stream, as the store should hold it but for the chunks with too few words
            var all = new Chunker(TestFiles.DecoderTokenizer, new ChunkingOptions()).Split(doc.Key, doc.Key, doc.Value);
            var stored = byDocument[doc.Key].ToDictionary(c => c.Ordinal);
            for (int i = 0; i < all.Count; i++)
            {
                if (!stored.TryGetValue(i, out var c))
                {
                    skipped++;
                    DocumentTitles.CountWords(all[i].Text, 3).ShouldBeLessThan(3, $"{doc.Key} #{i} was not indexed");
                    continue;
                }
                c.Id.ShouldBe(ChunkId.From(doc.Key, i));
                c.Tokens.ShouldBe(all[i].Tokens);
                c.ContinuationTokens.ShouldBe(all[i].ContinuationTokens); // unchanged by skipped chunks after it
                if (i < all.Count - 1)
                {
                    c.Tokens.Length.ShouldBe(64);
                    c.ContinuationTokens.ShouldBe(all[i + 1].Tokens.Take(64));
                    c.ContinuationText.ShouldBe(all[i + 1].Text);
                }
                else c.ContinuationTokens.ShouldBeEmpty();
                string headword = doc.Value[..doc.Value.IndexOf('\n')];
                c.Title.ShouldBe(headword.Any(char.IsLetterOrDigit) ? headword : ""); // "!" and "$" name no title
            }
        }
        stats.SkippedChunks.ShouldBe(skipped);
        skipped.ShouldBeGreaterThan(0); // FOLDOC entries end in date stamps such as "(1998-09-17)"
        chunks.ShouldAllBe(c => c.Url.StartsWith("foldoc:") && c.DocumentId == c.Url && c.Metadata["source"] == "foldoc");
        var checkpoint = (await store.ListAsync()).Single();
        checkpoint.ShouldBe(new IngestCheckpoint(Shard.For(shard).Key, 120, new FileInfo(shard).Length, true, 120, store.Points.Count, 0, 0));
    }

    [Fact]
    public void Chunk_texts_reassemble_the_document_and_tokenize_back_to_their_ids()
    {
        var line = TestFiles.SampleLines(400).OrderByDescending(l => l.Length).First();
        string text = JsonDocument.Parse(line).RootElement.GetProperty("text").GetString()!;
        var chunks = new DocumentChunker(TestFiles.DecoderTokenizer, new ChunkingOptions { MinKeyWords = 0 }).Chunk("d", null, text, new Dictionary<string, string>());
        chunks.Count.ShouldBeGreaterThan(3);
        string.Concat(chunks.Select(c => c.Text)).ShouldBe(text);
        TestFiles.DecoderTokenizer.Encode(text).ShouldBe(chunks.SelectMany(c => c.Tokens));
        chunks.ShouldAllBe(c => c.Url == "");
    }

    [Fact]
    public async Task Metrics_count_what_the_run_committed()
    {
        var totals = new System.Collections.Concurrent.ConcurrentDictionary<string, double>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        void Add(string name, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string key = tags.Length == 0 ? name : $"{name}:{tags[0].Value}";
            totals.AddOrUpdate(key, value, (_, v) => v + value);
        }
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i.Name, v, tags));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i.Name, v, tags));
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i.Name, v, tags));
        string? meterName = null;

        var lines = TestFiles.SampleLines(20);
        string shard = TestFiles.WriteLines(Dir["in/m.jsonl"], [.. lines, "{bad", lines[0]]);
        var stats = await Ingest(new MemoryStore(), Dir["state"], ShardResolver.Resolve([shard]), before: ingestor =>
        {
            // Only this run's meter: other tests run ingestions in parallel under the same meter name.
            var meter = ingestor.Metrics.Meter;
            meterName = meter.Name;
            listener.InstrumentPublished = (instrument, l) => { if (ReferenceEquals(instrument.Meter, meter)) l.EnableMeasurementEvents(instrument); };
            listener.Start();
        });
        listener.Dispose();
        meterName.ShouldBe("Retro.Indexer");

        totals["retro.indexer.documents"].ShouldBe(stats.Documents);
        totals["retro.indexer.chunks"].ShouldBe(stats.Chunks);
        totals["retro.indexer.duplicates"].ShouldBe(1);
        totals["retro.indexer.rejects:malformed-json"].ShouldBe(1);
        totals["retro.indexer.bytes_read"].ShouldBe(new FileInfo(shard).Length);
        totals["retro.indexer.batch.size"].ShouldBe(stats.Chunks);
        totals.ShouldContainKey("retro.indexer.embed.duration");
        totals.ShouldContainKey("retro.indexer.upsert.duration");
    }

    [Fact]
    public async Task Rerunning_finished_input_changes_nothing()
    {
        var shards = ShardResolver.Resolve([TestFiles.WriteLines(Dir["in/a.jsonl"], TestFiles.SampleLines(80)),
                                            TestFiles.WriteLines(Dir["in/b.jsonl.gz"], TestFiles.SampleLines(60, skip: 80), gzip: true)]);
        var store = new MemoryStore();
        var encoder = new HashEncoder();
        await Ingest(store, Dir["state"], shards, encoder);
        var before = new MemoryStore();
        foreach (var (_, p) in store.Points) await before.UpsertAsync([new VectorPoint(p.Chunk, p.Vector)]);
        var checkpoints = await store.ListAsync();
        int upserts = store.Upserts, embedded = encoder.Texts;

        var again = await Ingest(store, Dir["state"], shards, encoder);
        again.Documents.ShouldBe(0);
        again.Chunks.ShouldBe(0);
        again.ShardsSkipped.ShouldBe(2);
        store.Upserts.ShouldBe(upserts);
        encoder.Texts.ShouldBe(embedded);
        SameStore(store, before);
        (await store.ListAsync()).ShouldBe(checkpoints);
    }

    [Fact]
    public async Task Exact_duplicates_are_skipped_within_a_run_and_across_runs_and_urls_never_collide()
    {
        var lines = TestFiles.SampleLines(30);
        string dupOfFirst = lines[0].Replace("\"url\": \"foldoc:", "\"url\": \"mirror:");
        string sameUrlOtherText = lines[1].Replace("\"text\": \"", "\"text\": \"Changed. ");
        string first = TestFiles.WriteLines(Dir["in/1.jsonl"], [.. lines, lines[3], dupOfFirst]);
        var store = new MemoryStore();
        var stats = await Ingest(store, Dir["state"], ShardResolver.Resolve([first]));
        stats.Documents.ShouldBe(30);
        stats.Duplicates.ShouldBe(2);

        string second = TestFiles.WriteLines(Dir["in/2.jsonl"], [lines[5], sameUrlOtherText]);
        var more = await Ingest(store, Dir["state"], ShardResolver.Resolve([second]));
        more.Duplicates.ShouldBe(1);
        more.Documents.ShouldBe(1);
        string url = JsonDocument.Parse(lines[1]).RootElement.GetProperty("url").GetString()!;
        var ids = store.Points.Values.Select(p => p.Chunk.DocumentId).Distinct().Where(d => d.StartsWith(url + "#")).ToList();
        ids.Count.ShouldBe(1);
        ids[0].Length.ShouldBe(url.Length + 17);
        store.Points.Values.Count(p => p.Chunk.DocumentId == url && p.Chunk.Ordinal == 0).ShouldBe(1);
    }

    [Fact]
    public async Task A_store_failure_commits_only_acknowledged_records_and_a_rerun_equals_a_clean_run()
    {
        var shards = ShardResolver.Resolve([TestFiles.WriteLines(Dir["in/a.jsonl"], TestFiles.SampleLines(150)),
                                            TestFiles.WriteLines(Dir["in/b.jsonl"], [.. TestFiles.SampleLines(40, skip: 150), "not json"])]);
        var clean = new MemoryStore();
        await Ingest(clean, Dir["clean"], shards);

        var store = new MemoryStore { FailAfterUpserts = 30 };
        await Should.ThrowAsync<VectorStoreUnavailableException>(() => Ingest(store, Dir["crash"], shards));
        var partial = (await store.ListAsync()).Single();
        partial.Completed.ShouldBeFalse();
        // Every chunk of every committed record is in the store.
        using (var state = new IndexerState(Dir["crash"]))
        {
            await foreach (var (_, chunks) in StoredChunks.ReadAsync(state, store)) chunks.ShouldAllBe(c => c != null);
            state.CountDocuments().ShouldBe(partial.Documents);
        }

        store.FailAfterUpserts = null;
        await Ingest(store, Dir["crash"], shards);
        SameStore(store, clean);
        (await store.ListAsync()).ShouldBe(await clean.ListAsync());
    }

    [Fact]
    public async Task Bad_input_never_stops_the_job_and_is_quarantined_by_kind()
    {
        var good = TestFiles.SampleLines(10);
        string mixed = TestFiles.WriteBytes(Dir["in/mixed.jsonl"], [
            .. System.Text.Encoding.UTF8.GetBytes(string.Join("\n", [
                good[0], "{\"text\": \"unterminated", "{\"url\":\"u\"}", "{\"text\":\"\"}", "{\"text\":[1]}",
                "{\"text\":\"" + new string('y', 3000) + "\"}", good[1]]) + "\n"),
            .. "{\"text\":\"bad "u8, 0xC3, 0x28, .. " bytes\"}\n"u8, .. System.Text.Encoding.UTF8.GetBytes(good[2] + "\n")]);
        byte[] gz = TestFiles.Gzip(string.Join("\n", good.Skip(3)) + "\n");
        TestFiles.WriteBytes(Dir["in/cut.jsonl.gz"], gz[..(gz.Length - 20)]);
        byte[] binary = new byte[4096];
        new Random(3).NextBytes(binary);
        binary[10] = 0;
        TestFiles.WriteBytes(Dir["in/blob.json"], binary);
        Directory.CreateDirectory(Dir["in/folder.jsonl"]);
        File.CreateSymbolicLink(Dir["in/gone.jsonl"], Dir["nowhere.jsonl"]);

        var store = new MemoryStore();
        string rejects = Dir["rejects.jsonl"];
        var stats = await Ingest(store, Dir["state"], ShardResolver.Resolve([Dir["in"]]),
            options: new IngestOptions { BatchSize = 4, Parallelism = 2, MaxDocumentBytes = 2048 }, rejects: rejects);

        stats.RejectsOf(RejectReason.MalformedJson).ShouldBeGreaterThanOrEqualTo(1);
        stats.RejectsOf(RejectReason.MissingText).ShouldBe(1);
        stats.RejectsOf(RejectReason.EmptyText).ShouldBe(1);
        stats.RejectsOf(RejectReason.NonStringText).ShouldBe(1);
        stats.RejectsOf(RejectReason.TooLarge).ShouldBe(1);
        stats.RejectsOf(RejectReason.InvalidUtf8).ShouldBe(1);
        stats.RejectsOf(RejectReason.CorruptCompression).ShouldBe(1);
        stats.RejectsOf(RejectReason.BinaryFile).ShouldBe(1);
        stats.RejectsOf(RejectReason.Unreadable).ShouldBe(2);
        stats.Documents.ShouldBeGreaterThanOrEqualTo(3 + 5); // the mixed shard's 3, most of the truncated shard's 7
        store.Points.Values.Select(p => p.Chunk.DocumentId).Distinct().Count().ShouldBe((int)stats.Documents);

        var lines = File.ReadAllLines(rejects).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        lines.Count.ShouldBe((int)stats.Rejects);
        var utf8 = lines.Single(l => l.GetProperty("reason").GetString() == "invalid-utf8");
        utf8.GetProperty("shard").GetString().ShouldBe(Dir["in/mixed.jsonl"]);
        utf8.GetProperty("line").GetInt64().ShouldBe(8);
        utf8.GetProperty("snippet").GetString()!.ShouldStartWith("{\"text\":\"bad ");
        lines.Single(l => l.GetProperty("reason").GetString() == "missing-text").GetProperty("offset").GetInt64()
            .ShouldBe(System.Text.Encoding.UTF8.GetByteCount(good[0]) + 1 + "{\"text\": \"unterminated".Length + 1);
        (await store.ListAsync()).Count.ShouldBe(5);
        (await store.ListAsync()).ShouldAllBe(c => c.Completed);
    }
}
