using Retro.Eval.Data;

namespace Retro.Eval.Tests;

public sealed class DatasetsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("retro-eval-data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Squad_v1_questions_are_answerable_and_point_at_their_paragraph()
    {
        string path = Path.Combine(_dir, "v1.json");
        File.WriteAllText(path, """
        {"version": "1.1", "data": [{"title": "T", "paragraphs": [
          {"context": "c0", "qas": [{"id": "a", "question": "qa?", "answers": [{"text": "x", "answer_start": 0}, {"text": "y", "answer_start": 1}]}]},
          {"context": "c1", "qas": [{"id": "b", "question": "qb?", "answers": [{"text": "z", "answer_start": 0}]}]}]}]}
        """);
        var (questions, passages) = Datasets.ReadSquad(path, limit: 0);
        passages.Select(p => p.Id).ShouldBe(["squad:T#0", "squad:T#1"]);
        questions.Count.ShouldBe(2);
        questions[0].Answers.ShouldBe(["x", "y"]);
        questions[0].Unanswerable.ShouldBeFalse();
        questions[1].PassageId.ShouldBe("squad:T#1");
        Datasets.ReadSquad(path, limit: 1).Questions.Count.ShouldBe(1);
        Datasets.ReadSquad(path, limit: 1).Passages.Count.ShouldBe(2); // the limit cuts questions, not the passages
    }

    [Fact]
    public void Jsonl_questions_take_lists_or_single_answers_and_empty_means_unanswerable()
    {
        string path = Path.Combine(_dir, "qa.jsonl");
        File.WriteAllLines(path, ["""{"id": 7, "question": "q1", "answers": ["a", "b"]}""", "", """{"question": "q2", "answers": "c"}""", """{"question": "q3", "answers": []}"""]);
        var q = Datasets.ReadQuestionsJsonl(path, 0);
        q.Select(x => x.Id).ShouldBe(["7", "q3", "q4"]);
        q[1].Answers.ShouldBe(["c"]);
        q[2].Unanswerable.ShouldBeTrue();
        File.WriteAllLines(path, ["""{"prompt": "x"}"""]);
        Should.Throw<InvalidDataException>(() => Datasets.ReadQuestionsJsonl(path, 0)).Message.ShouldContain(":1: no 'question'");
    }

    [Fact]
    public void Beir_keeps_judged_queries_with_their_grades()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "qrels"));
        File.WriteAllLines(Path.Combine(_dir, "corpus.jsonl"), ["""{"_id": "1", "title": "Title", "text": "body"}""", """{"_id": 2, "text": "plain"}"""]);
        File.WriteAllLines(Path.Combine(_dir, "queries.jsonl"), ["""{"_id": "q1", "text": "first"}""", """{"_id": "q2", "text": "unjudged"}"""]);
        File.WriteAllLines(Path.Combine(_dir, "qrels", "test.tsv"), ["query-id\tcorpus-id\tscore", "q1\t1\t2", "q1\t2\t0"]);
        var (queries, corpus) = Datasets.ReadBeir(_dir, 0);
        corpus.Select(c => (c.Id, c.Text)).ShouldBe([("beir:1", "Title. body"), ("beir:2", "plain")]);
        queries.Single().Qrels.ShouldBe(new Dictionary<string, int> { ["beir:1"] = 2, ["beir:2"] = 0 }, ignoreOrder: true);
    }

    [Fact]
    public void Documents_use_the_url_or_a_content_hash_as_id_and_hash_changes_with_content()
    {
        string path = Path.Combine(_dir, "c4.jsonl");
        File.WriteAllLines(path, ["""{"text": "one", "url": "http://a"}""", """{"text": "  "}""", """{"text": "two"}""", """{"text": "three"}"""]);
        var docs = Datasets.ReadDocuments(path, limit: 2);
        docs.Select(d => d.Id).ShouldBe(["http://a", "eval:" + Datasets.ShortHash("two")]);
        Datasets.ReadDocuments(path, limit: 0, skip: 2).Single().Text.ShouldBe("three");
        string before = Datasets.HashPath(path);
        File.AppendAllText(path, """{"text": "four"}""" + "\n");
        Datasets.HashPath(path).ShouldNotBe(before);
    }
}
