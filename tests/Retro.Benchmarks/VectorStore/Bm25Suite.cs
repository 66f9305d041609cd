using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Retro.Core;
using Retro.Core.Text;
using Retro.VectorStore;
using Retro.VectorStore.Text;

namespace Retro.Benchmarks.VectorStore;

/// <summary>
/// <c>bm25</c>: our BM25 (the embedded store's text index) against a straightforward Python + NumPy BM25 over the same
/// analysed terms. Corpus: <c>samples/corpus/sample.jsonl.gz</c> plus every text file of the shared data folder, cut
/// into 48-word chunks; queries: SQuAD dev questions. Ends with <c>bm25: ours=q/s peer=q/s ratio=…</c> (1 thread, top k = 16, the product's default candidates).
/// </summary>
public sealed class Bm25Suite : ISuite
{
    private const int WordsPerChunk = 48;

    public string Name => "bm25";

    public string Description => "BM25 index build and query throughput (top k, 1 thread) vs a Python+NumPy BM25 on the same terms (--data DIR --queries 2000 --reps 3 --k 16 --no-peer --index-only --stop-words --stemming)";

    public int Run(string[] args)
    {
        string root = RepositoryRoot();
        string data = StringOption(args, "--data", Environment.GetEnvironmentVariable("RETRO_SHARED_DATA") ?? Path.GetFullPath(Path.Combine(root, "..", "shared", "data")));
        int nq = IntOption(args, "--queries", 2_000);
        int reps = IntOption(args, "--reps", 3);
        int k = IntOption(args, "--k", 16);
        bool peer = !args.Contains("--no-peer");
        var bm25 = new Bm25Options { StopWords = args.Contains("--stop-words"), Stemming = args.Contains("--stemming") };

        var sw = Stopwatch.StartNew();
        var (texts, questions) = LoadCorpus(Path.Combine(root, "samples", "corpus", "sample.jsonl.gz"), data);
        var chunks = Chunk(texts);
        var queries = questions.Count >= nq ? questions.GetRange(0, nq) : questions.Concat(SampledQueries(chunks, nq - questions.Count)).ToList();
        Console.WriteLine($"bm25: {texts.Count} documents -> {chunks.Count} chunks of <= {WordsPerChunk} words, {queries.Count} queries ({Math.Min(questions.Count, nq)} SQuAD questions); " +
            $"stop words={bm25.StopWords} stemming={bm25.Stemming} k1={bm25.K1} b={bm25.B} top {k}; loaded in {sw.Elapsed.TotalSeconds:F1} s");

        // Analysis (ours only; the peer reads our terms).
        var analyzer = new TextAnalyzer(bm25);
        sw.Restart();
        var docs = new DocumentTerms[chunks.Count];
        long totalTerms = 0;
        for (int i = 0; i < docs.Length; i++)
        {
            docs[i] = new DocumentTerms((uint)i, analyzer.Count(chunks[i], out int length), length);
            totalTerms += length;
        }
        double analyseS = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"ours: analysis {analyseS:F2} s ({totalTerms / analyseS / 1e6:F1} M terms/s, {totalTerms} terms)");

        // In-memory index build from analysed terms (what the peer's build does).
        sw.Restart();
        var memory = new InvertedIndex();
        memory.Apply([], docs);
        double buildS = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"ours: in-memory index build {buildS:F3} s ({memory.Terms} terms, {memory.Postings} postings)");
        double directQps = QueryIndex(memory, analyzer, queries, bm25, k, reps);
        Console.WriteLine($"ours: the in-memory index alone (analysed query terms, no store around it): {directQps:F0} q/s");
        if (args.Contains("--index-only")) return 0;

        string dir = Directory.CreateTempSubdirectory("retro-bm25-").FullName;
        try
        {
            var spec = new CollectionSpec { Name = "bm25", Dimension = 8, M = 8, EfConstruction = 32, Bm25 = bm25 };
            double storeS = BuildStore(dir, spec, chunks).GetAwaiter().GetResult();
            Console.WriteLine($"ours: durable store build {storeS:F1} s ({chunks.Count / storeS:F0} chunks/s: SQLite payload + postings in one transaction per 512 chunks, 8-d HNSW)");

            var (oursQps, oursTop) = QueryStore(dir, spec, queries, k, reps).GetAwaiter().GetResult();
            double diskQps = QuerySqlite(Path.Combine(dir, spec.Name, StoreFiles.Database), analyzer, queries.GetRange(0, Math.Min(200, queries.Count)), bm25, k);
            Console.WriteLine($"ours: postings read from SQLite per query (no in-memory copy): {diskQps:F0} q/s over {Math.Min(200, queries.Count)} queries");

            double peerQps = double.NaN;
            if (peer)
            {
                var (qps, top) = RunPeer(dir, docs, queries, analyzer, bm25, k, reps);
                peerQps = qps;
                Agreement(oursTop, top);
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bm25: ours={oursQps:F0} peer={peerQps:F0} ratio={oursQps / peerQps:F1}"));
            return 0;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    // ---------------------------------------------------------------- ours

    private static async Task<double> BuildStore(string dir, CollectionSpec spec, List<string> chunks)
    {
        var sw = Stopwatch.StartNew();
        await using var store = await EmbeddedVectorStore.OpenAsync(dir, spec, new EmbeddedStoreOptions { BuildThreads = 1 });
        var random = new Random(7);
        const int Batch = 512;
        for (int start = 0; start < chunks.Count; start += Batch)
        {
            var points = new List<VectorPoint>(Batch);
            for (int i = start; i < Math.Min(chunks.Count, start + Batch); i++)
            {
                var vector = new float[spec.Dimension];
                for (int j = 0; j < vector.Length; j++) vector[j] = (float)random.NextDouble() - 0.5f;
                points.Add(new VectorPoint(new Chunk(Id(i), "bm25-" + i, "", 0, chunks[i], [], "", [], new Dictionary<string, string>()), vector));
            }
            await store.UpsertAsync(points);
        }
        await store.FlushAsync();
        return sw.Elapsed.TotalSeconds;
    }

    private static ChunkId Id(int i) => ChunkId.From("bm25-" + i.ToString(CultureInfo.InvariantCulture), 0);

    /// <summary>Reopens the store (postings loaded from SQLite) and runs every query through <c>SearchTextAsync</c>.</summary>
    private static async Task<(double Qps, int[] Top)> QueryStore(string dir, CollectionSpec spec, List<string> queries, int k, int reps)
    {
        var sw = Stopwatch.StartNew();
        await using var store = await EmbeddedVectorStore.OpenAsync(dir, spec, new EmbeddedStoreOptions { BuildThreads = 1 });
        Console.WriteLine($"ours: reopen (postings loaded from SQLite, nothing re-analysed: {store.LastOpenReport!.TextsIndexed}) {sw.Elapsed.TotalSeconds:F2} s");
        var index = new Dictionary<ChunkId, int>();
        for (int i = 0; i < (int)await store.CountAsync(); i++) index[Id(i)] = i;
        var hits = new SearchHit[k];
        var options = new SearchOptions { Limit = k };
        var top = new int[queries.Count * 10];
        Array.Fill(top, -1);
        var rates = new List<double>();
        for (int rep = 0; rep < reps + 1; rep++) // rep 0 warms up (JIT, tiering)
        {
            sw.Restart();
            for (int q = 0; q < queries.Count; q++)
            {
                int n = await store.SearchTextAsync(queries[q], options, hits);
                if (rep == 0)
                {
                    for (int i = 0; i < Math.Min(10, n); i++) top[q * 10 + i] = index[hits[i].Id];
                }
            }
            double qps = queries.Count / sw.Elapsed.TotalSeconds;
            if (rep > 0)
            {
                rates.Add(qps);
                Console.WriteLine($"ours: rep {rep} {qps:F0} q/s");
            }
        }
        rates.Sort();
        return (rates[rates.Count / 2], top);
    }

    /// <summary>Queries the in-memory index directly (terms analysed beforehand): the search algorithm alone, median of reps.</summary>
    private static double QueryIndex(InvertedIndex index, TextAnalyzer analyzer, List<string> queries, Bm25Options bm25, int k, int reps)
    {
        var terms = queries.Select(q => analyzer.Count(q, out _)).ToArray();
        var found = new (uint Offset, float Score)[k];
        var rates = new List<double>();
        for (int rep = 0; rep < reps + 1; rep++)
        {
            var sw = Stopwatch.StartNew();
            foreach (var t in terms) index.Search(t, bm25.K1, bm25.B, null, found, CancellationToken.None);
            if (rep > 0) rates.Add(terms.Length / sw.Elapsed.TotalSeconds);
        }
        rates.Sort();
        return rates[rates.Count / 2];
    }

    /// <summary>The alternative design: score from the SQLite postings table per query (lengths cached in memory).</summary>
    private static double QuerySqlite(string database, TextAnalyzer analyzer, List<string> queries, Bm25Options bm25, int k)
    {
        using var connection = new SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
        connection.Open();
        var lengths = new Dictionary<uint, int>();
        using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = "SELECT offset, length FROM doc_terms";
            using var reader = cmd.ExecuteReader();
            while (reader.Read()) lengths[(uint)reader.GetInt64(0)] = reader.GetInt32(1);
        }
        double avg = lengths.Values.Average();
        using var postings = connection.CreateCommand();
        postings.CommandText = "SELECT offset, tf FROM postings WHERE term = $term";
        var term = postings.Parameters.Add("$term", SqliteType.Integer);
        postings.Prepare();
        var sw = Stopwatch.StartNew();
        var scores = new Dictionary<uint, float>();
        var rows = new List<(uint Offset, int Tf)>();
        foreach (string q in queries)
        {
            scores.Clear();
            foreach (var t in analyzer.Count(q, out _))
            {
                term.Value = (long)t.Term;
                rows.Clear();
                using (var reader = postings.ExecuteReader())
                {
                    while (reader.Read()) rows.Add(((uint)reader.GetInt64(0), reader.GetInt32(1)));
                }
                float idf = Bm25.Idf(rows.Count, lengths.Count);
                foreach (var (offset, tf) in rows)
                {
                    scores.TryGetValue(offset, out float s);
                    scores[offset] = s + t.Count * idf * Bm25.TermWeight(tf, lengths[offset], (float)avg, bm25.K1, bm25.B);
                }
            }
            _ = scores.OrderByDescending(p => p.Value).Take(k).Count();
        }
        return queries.Count / sw.Elapsed.TotalSeconds;
    }

    // ---------------------------------------------------------------- peer

    private static (double Qps, int[] Top) RunPeer(string dir, DocumentTerms[] docs, List<string> queries, TextAnalyzer analyzer, Bm25Options bm25, int k, int reps)
    {
        string docsPath = Path.Combine(dir, "docs.bin"), queriesPath = Path.Combine(dir, "queries.bin"), outPath = Path.Combine(dir, "top.bin");
        using (var w = new BinaryWriter(File.Create(docsPath)))
        {
            w.Write((uint)docs.Length);
            foreach (var d in docs)
            {
                w.Write((uint)d.Length);
                w.Write((uint)d.Terms.Length);
                foreach (var t in d.Terms)
                {
                    w.Write(t.Term);
                    w.Write((uint)t.Count);
                }
            }
        }
        using (var w = new BinaryWriter(File.Create(queriesPath)))
        {
            w.Write((uint)queries.Count);
            var ids = new List<uint>();
            foreach (string q in queries)
            {
                ids.Clear();
                analyzer.Analyze(q, ids);
                w.Write((uint)ids.Count);
                foreach (uint id in ids) w.Write(id);
            }
        }
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in new[] { FindPeer(), docsPath, queriesPath, outPath, bm25.K1.ToString(CultureInfo.InvariantCulture),
                     bm25.B.ToString(CultureInfo.InvariantCulture), k.ToString(CultureInfo.InvariantCulture), reps.ToString(CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment.Remove("OPENBLAS_CORETYPE");
        psi.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start /usr/bin/python3");
        var rates = new List<double>();
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null)
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            if (r.TryGetProperty("build_s", out var b))
            {
                Console.WriteLine($"peer: index build {b.GetDouble():F3} s ({r.GetProperty("terms").GetInt32()} terms)");
                continue;
            }
            double qps = r.GetProperty("qps").GetDouble();
            rates.Add(qps);
            Console.WriteLine($"peer: rep {r.GetProperty("rep").GetInt32() + 1} {qps:F0} q/s");
        }
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"bm25_peer.py exited with {process.ExitCode}");
        var bytes = File.ReadAllBytes(outPath);
        var top = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(bytes).ToArray();
        rates.Sort();
        return (rates[rates.Count / 2], top);
    }

    /// <summary>How often both sides return the same top 10 (as a list, and as a set: near-ties may swap in float32).</summary>
    private static void Agreement(int[] ours, int[] peer)
    {
        int n = ours.Length / 10, sameList = 0, sameSet = 0;
        for (int q = 0; q < n; q++)
        {
            var a = ours.AsSpan(q * 10, 10);
            var b = peer.AsSpan(q * 10, 10);
            if (a.SequenceEqual(b)) sameList++;
            if (a.ToArray().Order().SequenceEqual(b.ToArray().Order())) sameSet++;
        }
        Console.WriteLine($"agreement: identical top-10 lists {sameList}/{n}, identical top-10 sets {sameSet}/{n}");
    }

    // ---------------------------------------------------------------- data

    private static (List<string> Texts, List<string> Questions) LoadCorpus(string sample, string data)
    {
        var texts = new List<string>();
        var questions = new List<string>();
        if (File.Exists(sample)) ReadJsonLines(sample, texts);
        else Console.WriteLine($"warning: {sample} not found");
        if (Directory.Exists(data))
        {
            foreach (string file in Directory.EnumerateFiles(data, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                string name = Path.GetFileName(file);
                if (name.EndsWith(".jsonl", StringComparison.Ordinal) || name.EndsWith(".jsonl.gz", StringComparison.Ordinal) || name.EndsWith(".json.gz", StringComparison.Ordinal))
                {
                    ReadJsonLines(file, texts);
                }
                else if (name.EndsWith(".raw", StringComparison.Ordinal))
                {
                    foreach (string line in File.ReadLines(file))
                    {
                        if (line.Length > 0 && !line.StartsWith(" =", StringComparison.Ordinal)) texts.Add(line);
                    }
                }
                else if (name.StartsWith("dev-v", StringComparison.Ordinal) && name.EndsWith(".json", StringComparison.Ordinal))
                {
                    ReadSquad(file, texts, questions);
                }
            }
        }
        else
        {
            Console.WriteLine($"warning: shared data folder {data} not found; sample corpus only");
        }
        return (texts, questions);
    }

    private static void ReadJsonLines(string path, List<string> texts)
    {
        using var stream = File.OpenRead(path);
        using Stream input = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(stream, CompressionMode.Decompress) : stream;
        using var reader = new StreamReader(input);
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            if (line.Length == 0) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                    texts.Add(t.GetString()!);
            }
            catch (JsonException)
            {
                // A file that is not JSON lines (e.g. one JSON document) contributes nothing.
                return;
            }
        }
    }

    private static void ReadSquad(string path, List<string> texts, List<string> questions)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        foreach (var article in doc.RootElement.GetProperty("data").EnumerateArray())
        {
            foreach (var paragraph in article.GetProperty("paragraphs").EnumerateArray())
            {
                texts.Add(paragraph.GetProperty("context").GetString()!);
                foreach (var qa in paragraph.GetProperty("qas").EnumerateArray()) questions.Add(qa.GetProperty("question").GetString()!);
            }
        }
    }

    private static List<string> Chunk(List<string> texts)
    {
        var chunks = new List<string>();
        foreach (string text in texts)
        {
            var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            for (int start = 0; start < words.Length; start += WordsPerChunk)
                chunks.Add(string.Join(' ', words, start, Math.Min(WordsPerChunk, words.Length - start)));
        }
        return chunks;
    }

    private static IEnumerable<string> SampledQueries(List<string> chunks, int count)
    {
        var random = new Random(11);
        for (int i = 0; i < count; i++)
        {
            var words = chunks[random.Next(chunks.Count)].Split(' ');
            int start = random.Next(Math.Max(1, words.Length - 6));
            yield return string.Join(' ', words.Skip(start).Take(6));
        }
    }

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Retro.sln"))) return d.FullName;
        }
        return Directory.GetCurrentDirectory();
    }

    private static string FindPeer()
    {
        string candidate = Path.Combine(RepositoryRoot(), "tests", "Retro.Benchmarks", "peers", "bm25_peer.py");
        return File.Exists(candidate) ? candidate : throw new FileNotFoundException("tests/Retro.Benchmarks/peers/bm25_peer.py not found", candidate);
    }

    private static int IntOption(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string StringOption(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }
}
