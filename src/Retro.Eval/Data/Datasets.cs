using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;

namespace Retro.Eval.Data;

/// <summary>A document to index or to score: identity (becomes the store's document id), text.</summary>
internal sealed record EvalDocument(string Id, string Text);

/// <summary>A question with its gold answers (empty for an unanswerable one) and its gold passage id, when known.</summary>
internal sealed record EvalQuestion(string Id, string Question, IReadOnlyList<string> Answers, bool Unanswerable, string? PassageId);

/// <summary>A retrieval query with graded judgements (document id to grade).</summary>
internal sealed record EvalQuery(string Id, string Text, IReadOnlyDictionary<string, int> Qrels);

/// <summary>Readers for the dataset formats the comparison takes, and the content hash that keys cached results.</summary>
internal static class Datasets
{
    /// <summary>
    /// C4-style JSON lines (<c>.json</c>, <c>.jsonl</c>, optionally <c>.gz</c>): <c>text</c> and optional <c>url</c>. The id
    /// is the url, else <c>eval:</c> plus the first 16 hex digits of the text's SHA-256. The first <paramref name="limit"/>
    /// non-empty records (0 = all), skipping the first <paramref name="skip"/>.
    /// </summary>
    public static List<EvalDocument> ReadDocuments(string path, int limit, int skip = 0)
    {
        var docs = new List<EvalDocument>();
        int seen = 0;
        using var reader = OpenText(path);
        int lineNo = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var json = Parse(line, path, lineNo);
            var root = json.RootElement;
            if (!root.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String) continue;
            string text = t.GetString()!;
            if (text.Trim().Length == 0) continue;
            if (seen++ < skip) continue;
            string? url = root.TryGetProperty("url", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
            docs.Add(new EvalDocument(string.IsNullOrEmpty(url) ? "eval:" + ShortHash(text) : url, text));
            if (limit > 0 && docs.Count >= limit) break;
        }
        return docs;
    }

    /// <summary>
    /// SQuAD v1.1/v2.0 JSON: questions (first <paramref name="limit"/>, 0 = all) and every paragraph as a passage with id
    /// <c>squad:{title}#{paragraph index}</c>.
    /// </summary>
    public static (List<EvalQuestion> Questions, List<EvalDocument> Passages) ReadSquad(string path, int limit)
    {
        using var stream = File.OpenRead(path);
        using var json = JsonDocument.Parse(stream);
        if (!json.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"'{path}' is not SQuAD JSON: no 'data' array");
        var questions = new List<EvalQuestion>();
        var passages = new List<EvalDocument>();
        foreach (var article in data.EnumerateArray())
        {
            string title = article.TryGetProperty("title", out var ti) ? ti.GetString() ?? "" : "";
            int pi = 0;
            foreach (var paragraph in article.GetProperty("paragraphs").EnumerateArray())
            {
                string pid = $"squad:{title}#{pi++}";
                passages.Add(new EvalDocument(pid, paragraph.GetProperty("context").GetString() ?? ""));
                foreach (var qa in paragraph.GetProperty("qas").EnumerateArray())
                {
                    if (limit > 0 && questions.Count >= limit) continue;
                    bool impossible = qa.TryGetProperty("is_impossible", out var imp) && imp.ValueKind == JsonValueKind.True;
                    var answers = new List<string>();
                    if (!impossible && qa.TryGetProperty("answers", out var ans))
                        foreach (var a in ans.EnumerateArray()) answers.Add(a.GetProperty("text").GetString() ?? "");
                    questions.Add(new EvalQuestion(qa.GetProperty("id").GetString() ?? "", qa.GetProperty("question").GetString() ?? "",
                        answers, impossible || answers.Count == 0, pid));
                }
            }
        }
        return (questions, passages);
    }

    /// <summary>
    /// JSON lines of <c>{"id"?, "question", "answers": [..]}</c> (an empty list = unanswerable); the first
    /// <paramref name="limit"/> (0 = all). No gold passage.
    /// </summary>
    public static List<EvalQuestion> ReadQuestionsJsonl(string path, int limit)
    {
        var questions = new List<EvalQuestion>();
        using var reader = OpenText(path);
        int lineNo = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var json = Parse(line, path, lineNo);
            var root = json.RootElement;
            if (!root.TryGetProperty("question", out var q) || q.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{path}:{lineNo}: no 'question' string");
            var answers = new List<string>();
            if (root.TryGetProperty("answers", out var ans))
            {
                if (ans.ValueKind == JsonValueKind.String) answers.Add(ans.GetString()!);
                else foreach (var a in ans.EnumerateArray()) answers.Add(a.ValueKind == JsonValueKind.String ? a.GetString()! : a.GetProperty("text").GetString()!);
            }
            string id = root.TryGetProperty("id", out var i) ? i.ToString() : $"q{lineNo}";
            questions.Add(new EvalQuestion(id, q.GetString()!, answers, answers.Count == 0, null));
            if (limit > 0 && questions.Count >= limit) break;
        }
        return questions;
    }

    /// <summary>
    /// A BEIR folder: <c>corpus.jsonl</c> (<c>_id</c>, <c>title</c>, <c>text</c>; documents get id <c>beir:{_id}</c>, text
    /// "title. text"), <c>queries.jsonl</c> (<c>_id</c>, <c>text</c>) and <c>qrels/test.tsv</c> (query-id, corpus-id, score,
    /// with a header). Only queries with judgements are returned (the first <paramref name="limit"/>, 0 = all); a query
    /// whose judgements are all 0 is kept, and the metrics skip it.
    /// </summary>
    public static (List<EvalQuery> Queries, List<EvalDocument> Corpus) ReadBeir(string folder, int limit)
    {
        string qrelsPath = Path.Combine(folder, "qrels", "test.tsv");
        if (!File.Exists(qrelsPath)) throw new FileNotFoundException($"BEIR qrels '{qrelsPath}' not found", qrelsPath);
        var qrels = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(qrelsPath).Skip(1))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var f = line.Split('\t');
            if (f.Length < 3) throw new InvalidDataException($"{qrelsPath}: bad line '{line}'");
            if (!qrels.TryGetValue(f[0], out var map)) qrels[f[0]] = map = new(StringComparer.Ordinal);
            map["beir:" + f[1]] = int.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture);
        }
        var corpus = new List<EvalDocument>();
        using (var reader = OpenText(Path.Combine(folder, "corpus.jsonl")))
        {
            int lineNo = 0;
            while (reader.ReadLine() is { } line)
            {
                lineNo++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                using var json = Parse(line, folder + "/corpus.jsonl", lineNo);
                var r = json.RootElement;
                string title = r.TryGetProperty("title", out var t) ? t.GetString() ?? "" : "";
                string text = r.GetProperty("text").GetString() ?? "";
                corpus.Add(new EvalDocument("beir:" + r.GetProperty("_id").ToString().Trim('"'), title.Length > 0 ? $"{title}. {text}" : text));
            }
        }
        var queries = new List<EvalQuery>();
        using (var reader = OpenText(Path.Combine(folder, "queries.jsonl")))
        {
            int lineNo = 0;
            while (reader.ReadLine() is { } line)
            {
                lineNo++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                using var json = Parse(line, folder + "/queries.jsonl", lineNo);
                string id = json.RootElement.GetProperty("_id").ToString().Trim('"');
                if (!qrels.TryGetValue(id, out var map)) continue;
                queries.Add(new EvalQuery(id, json.RootElement.GetProperty("text").GetString() ?? "", map));
                if (limit > 0 && queries.Count >= limit) break;
            }
        }
        return (queries, corpus);
    }

    /// <summary>
    /// Definition questions (<see cref="Definitions"/>) of <paramref name="split"/> as QA questions (id = the entry's url, which
    /// is also the gold passage; reference answers: the entry's first sentence, then those of the term's other entries)
    /// and the whole corpus as passages.
    /// </summary>
    public static (List<EvalQuestion> Questions, List<EvalDocument> Passages, DefinitionSet Set) ReadDefinitions(string path, DefinitionSplit split, int limit)
    {
        var set = Definitions.Read(path, split, limit);
        var questions = set.Entries.Select(e => new EvalQuestion(e.Url, e.Question,
            [e.Answer, .. set.EntriesOfTerm[e.Term].Where(o => o.Url != e.Url).Select(o => o.Answer)], false, e.Url)).ToList();
        return (questions, set.Corpus, set);
    }

    /// <summary>SHA-256 (hex) of a file's bytes, or of every file under a folder in ordinal path order.</summary>
    public static string HashPath(string path)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var files = Directory.Exists(path)
            ? Directory.GetFiles(path, "*", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToArray()
            : File.Exists(path) ? [path] : throw new FileNotFoundException($"dataset '{path}' not found", path);
        var buffer = new byte[1 << 16];
        foreach (var file in files)
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetRelativePath(path, file)));
            using var s = File.OpenRead(file);
            int n;
            while ((n = s.Read(buffer)) > 0) sha.AppendData(buffer, 0, n);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>First 16 hex digits of the SHA-256 of a string.</summary>
    public static string ShortHash(string text) =>
        Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)))[..16];

    private static StreamReader OpenText(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"dataset file '{path}' not found", path);
        Stream s = File.OpenRead(path);
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) s = new GZipStream(s, CompressionMode.Decompress);
        return new StreamReader(s);
    }

    private static JsonDocument Parse(string line, string path, int lineNo)
    {
        try { return JsonDocument.Parse(line); }
        catch (JsonException e) { throw new InvalidDataException($"{path}:{lineNo}: {e.Message}", e); }
    }
}
