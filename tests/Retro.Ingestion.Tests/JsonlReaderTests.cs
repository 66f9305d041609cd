using System.Text;
using Retro.Ingestion.Reading;

namespace Retro.Ingestion.Tests;

public sealed class JsonlReaderTests : FolderTests
{
    private static SourceDocument Doc(string json)
    {
        var (document, reject) = JsonlReader.Parse(Encoding.UTF8.GetBytes(json));
        reject.ShouldBeNull();
        return document.ShouldNotBeNull();
    }

    [Fact]
    public void C4_fields_become_url_and_metadata()
    {
        var d = Doc("""{"text":"Beginners BBQ Class","timestamp":"2019-04-25T12:57:54Z","url":"https://klyq.com/x","n":3,"ok":true,"nested":{"a":1},"nul":null}""");
        d.Text.ShouldBe("Beginners BBQ Class");
        d.Url.ShouldBe("https://klyq.com/x");
        d.Metadata["timestamp"].ShouldBe("2019-04-25T12:57:54Z");
        d.Metadata["n"].ShouldBe("3");
        d.Metadata["ok"].ShouldBe("true");
        d.Metadata.ContainsKey("nested").ShouldBeFalse();
        d.Metadata.ContainsKey("nul").ShouldBeFalse();
        d.Metadata.ContainsKey("url").ShouldBeFalse();
    }

    [Fact]
    public void Olmo_date_is_the_timestamp()
    {
        Doc("""{"text":"t","url":"u","date":"2019-04-21T18:54:04Z"}""").Metadata["timestamp"].ShouldBe("2019-04-21T18:54:04Z");
    }

    [Fact]
    public void RedPajama_meta_as_a_json_string_is_parsed()
    {
        var d = Doc("""{"text":"t","meta":"{\"timestamp\":\"2019-04-24T02:17:53Z\",\"url\":\"http://a.b/c\",\"language\":\"en\",\"source\":\"c4\"}"}""");
        d.Url.ShouldBe("http://a.b/c");
        d.Metadata["timestamp"].ShouldBe("2019-04-24T02:17:53Z");
        d.Metadata["language"].ShouldBe("en");
        d.Metadata["source"].ShouldBe("c4");
    }

    [Fact]
    public void Dolma_metadata_object_gives_the_url_but_top_level_fields_win()
    {
        var d = Doc("""{"id":"x","text":"t","source":"common-crawl","metadata":{"url":"https://x.y/","source":"inner","warc_date":"2019"}}""");
        d.Url.ShouldBe("https://x.y/");
        d.Metadata["source"].ShouldBe("common-crawl");
        d.Metadata["warc_date"].ShouldBe("2019");
        d.Metadata["id"].ShouldBe("x");
    }

    [Fact]
    public void Meta_string_that_is_not_json_is_kept_as_is()
    {
        Doc("""{"text":"t","meta":"plain words"}""").Metadata["meta"].ShouldBe("plain words");
    }

    [Theory]
    [InlineData("""{"text": "a" """, RejectReason.MalformedJson)]
    [InlineData("""[1,2]""", RejectReason.MalformedJson)]
    [InlineData("""{"text":"a"} {"text":"b"}""", RejectReason.MalformedJson)]
    [InlineData("""{"url":"u"}""", RejectReason.MissingText)]
    [InlineData("""{"text":""}""", RejectReason.EmptyText)]
    [InlineData("""{"text":"  \n "}""", RejectReason.EmptyText)]
    [InlineData("""{"text":42}""", RejectReason.NonStringText)]
    [InlineData("""{"text":null}""", RejectReason.NonStringText)]
    public void Bad_records_are_rejected_with_their_kind(string json, RejectReason reason)
    {
        var (document, reject) = JsonlReader.Parse(Encoding.UTF8.GetBytes(json));
        document.ShouldBeNull();
        reject.ShouldNotBeNull().Reason.ShouldBe(reason);
        reject.Snippet.ShouldNotBeEmpty();
    }

    [Fact]
    public void Invalid_utf8_is_rejected()
    {
        byte[] line = [.. "{\"text\":\"a"u8, 0xC3, 0x28, .. "\"}"u8];
        JsonlReader.Parse(line).Reject.ShouldNotBeNull().Reason.ShouldBe(RejectReason.InvalidUtf8);
    }

    [Fact]
    public void Blank_lines_are_neither_documents_nor_rejects()
    {
        JsonlReader.Parse(" \r"u8).ShouldBe((null, null));
    }

    [Fact]
    public void Gzip_is_detected_by_magic_bytes_and_offsets_count_decompressed_bytes()
    {
        string text = "{\"text\":\"one\"}\r\n\n{\"text\":\"two\"}\n{\"text\":\"three\"}";
        string path = TestFiles.WriteBytes(Dir["misnamed.jsonl"], TestFiles.Gzip(text));
        var records = new JsonlReader(1024).Read(Shard.For(path)).ToList();
        records.Select(r => r.Document?.Text).ShouldBe(["one", null, "two", "three"]);
        records.Select(r => r.Records).ShouldBe([1L, 2, 3, 4]);
        records.Select(r => r.Offset).ShouldBe([0L, 16, 17, 32]);
        records[^1].EndOffset.ShouldBe(Encoding.UTF8.GetByteCount(text));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reading_resumes_from_a_checkpoint_position(bool gzip)
    {
        var lines = Enumerable.Range(0, 50).Select(i => $"{{\"text\":\"document {i}\"}}").ToList();
        string path = TestFiles.WriteLines(Dir[gzip ? "s.json.gz" : "s.jsonl"], lines, gzip);
        var reader = new JsonlReader(1024);
        var all = reader.Read(Shard.For(path)).ToList();
        var cut = all[19];
        var rest = reader.Read(Shard.For(path), cut.Records, cut.EndOffset).ToList();
        rest.Select(r => r.Document!.Text).ShouldBe(all.Skip(20).Select(r => r.Document!.Text));
        rest[0].Records.ShouldBe(21);
        rest[0].Line.ShouldBe(21);
    }

    [Fact]
    public void Overlong_lines_are_skipped_without_losing_the_next_record()
    {
        string big = "{\"text\":\"" + new string('x', 5000) + "\"}";
        string path = TestFiles.WriteLines(Dir["big.jsonl"], ["{\"text\":\"a\"}", big, "{\"text\":\"b\"}"]);
        var records = new JsonlReader(1000).Read(Shard.For(path)).ToList();
        records.Count.ShouldBe(3);
        records[1].Reject.ShouldNotBeNull().Reason.ShouldBe(RejectReason.TooLarge);
        records[1].Reject!.Snippet.Length.ShouldBeLessThanOrEqualTo(ShardRecord.SnippetChars);
        records[2].Document!.Text.ShouldBe("b");
        records[2].Offset.ShouldBe(13 + big.Length + 1);
    }

    [Fact]
    public void Truncated_gzip_keeps_the_records_before_the_damage_and_reports_it()
    {
        var lines = Enumerable.Range(0, 2000).Select(i => $"{{\"text\":\"document number {i} {i * 7919 % 1000}\"}}");
        byte[] gz = TestFiles.Gzip(string.Join("\n", lines) + "\n");
        string path = TestFiles.WriteBytes(Dir["cut.jsonl.gz"], gz[..(gz.Length * 2 / 3)]);
        var records = new JsonlReader(1024).Read(Shard.For(path)).ToList();
        records.Count(r => r.Document is not null).ShouldBeGreaterThan(100);
        records[^1].Reject.ShouldNotBeNull().Reason.ShouldBe(RejectReason.CorruptCompression);
    }

    [Fact]
    public void A_whole_gzip_file_is_not_reported_truncated()
    {
        string path = TestFiles.WriteLines(Dir["ok.jsonl.gz"], TestFiles.SampleLines(300), gzip: true);
        var records = new JsonlReader(1 << 20).Read(Shard.For(path)).ToList();
        records.Count.ShouldBe(300);
        records.ShouldAllBe(r => r.Reject == null);
    }

    [Fact]
    public void A_multi_member_gzip_file_is_whole_and_one_cut_inside_its_last_member_is_not()
    {
        // `cat a.gz b.gz c.gz`: the trailer at the end holds only the last member's size.
        var members = Enumerable.Range(0, 3).Select(m => TestFiles.Gzip(string.Join("\n",
            Enumerable.Range(0, 400).Select(i => $"{{\"text\":\"member {m} document {i} {i * 7919 % 1000}\"}}")) + "\n")).ToArray();
        byte[] all = [.. members[0], .. members[1], .. members[2]];
        string whole = TestFiles.WriteBytes(Dir["cat.jsonl.gz"], all);
        var records = new JsonlReader(1024).Read(Shard.For(whole)).ToList();
        records.Count.ShouldBe(1200);
        records.ShouldAllBe(r => r.Reject == null);

        string cut = TestFiles.WriteBytes(Dir["cat-cut.jsonl.gz"], all[..(members[0].Length + members[1].Length + members[2].Length / 2)]);
        var damaged = new JsonlReader(1024).Read(Shard.For(cut)).ToList();
        damaged.Count(r => r.Document is not null).ShouldBeGreaterThanOrEqualTo(800);
        damaged[^1].Reject.ShouldNotBeNull().Reason.ShouldBe(RejectReason.CorruptCompression);
    }

    [Fact]
    public void Binary_files_and_unreadable_paths_are_shard_rejects()
    {
        var random = new Random(7);
        byte[] png = new byte[10_000];
        random.NextBytes(png);
        png[0] = 0x89; png[1] = (byte)'P'; png[5] = 0;
        string binary = TestFiles.WriteBytes(Dir["image.jsonl"], png);
        string folder = Dir["folder.jsonl"];
        Directory.CreateDirectory(folder);
        string link = Dir["dangling.jsonl.gz"];
        File.CreateSymbolicLink(link, Dir["nowhere"]);
        var reader = new JsonlReader(1024);
        reader.Read(Shard.For(binary)).Single().Reject!.Reason.ShouldBe(RejectReason.BinaryFile);
        reader.Read(Shard.For(folder)).Single().Reject!.Reason.ShouldBe(RejectReason.Unreadable);
        reader.Read(Shard.For(link)).Single().Reject!.Reason.ShouldBe(RejectReason.Unreadable);
    }

    [Fact]
    public void Sample_corpus_reads_whole_with_urls_timestamps_and_sources()
    {
        var records = new JsonlReader(1 << 20).Read(Shard.For(TestFiles.SampleCorpus)).ToList();
        records.Count.ShouldBe(25_845);
        records.ShouldAllBe(r => r.Document != null && r.Document.Url != null && r.Document.Metadata.ContainsKey("timestamp"));
        records.Select(r => r.Document!.Metadata["source"]).Distinct().Order().ShouldBe(["foldoc", "jargon", "wordnet"]);
    }
}

public sealed class IndexerStateTests : FolderTests
{
    [Fact]
    public async Task Documents_page_in_identity_order_and_state_survives_reopening()
    {
        using (var state = new Retro.Ingestion.State.IndexerState(Dir.Path))
        {
            var rows = Enumerable.Range(0, 25).Select(i => new Retro.Ingestion.State.DocumentRow($"doc{i:D3}", [(byte)i, .. new byte[31]], "shard", i + 1, i % 4)).Reverse().ToList();
            state.AddDocuments(rows);
            state.AddDocuments(rows.Take(3).ToList()); // already present: ignored
            await state.SetAsync(new Retro.Core.IngestCheckpoint("shard", 25, 999, true, 25, 36, 0, 0));
        }
        using var reopened = new Retro.Ingestion.State.IndexerState(Dir.Path);
        reopened.Documents(pageSize: 4).Select(r => r.DocumentId).ShouldBe(Enumerable.Range(0, 25).Select(i => $"doc{i:D3}"));
        reopened.CountDocuments().ShouldBe(25);
        reopened.CountChunks().ShouldBe(Enumerable.Range(0, 25).Sum(i => i % 4));
        reopened.FindByHash([7, .. new byte[31]])!.DocumentId.ShouldBe("doc007");
        reopened.FindById("doc011")!.Record.ShouldBe(12);
        (await reopened.GetAsync("shard"))!.ByteOffset.ShouldBe(999);
        (await reopened.ListAsync()).Count.ShouldBe(1);
    }
}
