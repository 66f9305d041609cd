using System.Text.Json;
using Retro.Core;
using Retro.Core.Options;
using Retro.Eval.Data;

namespace Retro.Eval.Running;

/// <summary>
/// <c>qa-data</c>: training material for the decoder's question answering, retrieved exactly as the service retrieves
/// (the product's index of each set's passages, its retriever, the run's first <c>search</c> and the largest <c>k</c>;
/// reranked when the modes include <c>rerank</c>). One JSON line per question: <c>dataset</c>, <c>id</c>,
/// <c>question</c>, <c>answer</c> (the first reference answer, or the answer of the retrieved entry of the same term),
/// <c>gold</c> (the answering passage's document id, or null), <c>relevant_docs</c> (every document that answers it),
/// <c>question_tokens</c>, <c>answer_tokens</c> (the decoder's ids of the question and of " " + answer, tokenized apart
/// as the service sees them), <c>neighbours</c> (each neighbour's chunk + continuation ids, at most r), <c>neighbour_docs</c>
/// and <c>hit</c> (whether a neighbour comes from the gold passage). Unanswerable questions are skipped. With
/// <c>candidates</c> &gt; 0 each line also holds the first stage's top candidates (the same search without reranking):
/// <c>candidates</c> = [{<c>doc</c>, <c>title</c>, <c>tokens</c> (the decoder tokenizer's ids of title + text, what the cross-encoder
/// reads)}], the cross-encoder's training groups (the gold passage's chunks are positives, the others hard negatives).
/// </summary>
internal sealed class QaDataExporter(EvalConfig config, TextWriter log, int candidates = 0)
{
    /// <summary>Writes the lines of every QA set of the config to <paramref name="outputPath"/>; returns the number written.</summary>
    public async Task<int> RunAsync(string outputPath, CancellationToken ct)
    {
        config.Validate();
        if (config.Qa.Count == 0) throw new InvalidDataException("qa-data needs at least one qa set in the config");
        Directory.CreateDirectory(config.Output);
        int k = config.K.Max();
        using var models = new EvalModelSet(config.Models, config.Threads, k);
        string? rerankMode = config.Modes.FirstOrDefault(Mode.IsRerank);
        bool rerank = rerankMode is not null;
        var options = SearchSide.Options(config.Search[0], new RetrievalOptions
        {
            K = k,
            Candidates = Math.Max(k, config.Candidates.Max()),
            Rerank = rerank,
            RerankWeight = rerankMode is null ? 1f : Mode.RerankWeight(rerankMode)!.Value,
        })!;
        int r = models.Decoder.Config.NeighbourLen, written = 0;
        string? folder = Path.GetDirectoryName(Path.GetFullPath(outputPath));
        if (folder is not null) Directory.CreateDirectory(folder);
        using var output = new StreamWriter(outputPath, append: false);
        foreach (var qa in config.Qa)
        {
            List<EvalQuestion> questions;
            List<EvalDocument> passages;
            DefinitionSet? set = null;
            if (qa.Format == "squad") (questions, passages) = Datasets.ReadSquad(qa.Path, qa.Limit);
            else if (qa.Format == "definitions") (questions, passages, set) = Datasets.ReadDefinitions(qa.Path, EvalConfig.DefinitionsSplit(qa.Split, qa.Name), qa.Limit);
            else throw new InvalidDataException($"qa-data: qa '{qa.Name}' must be squad or definitions (its passages are indexed)");
            await using var store = await IndexBuilder.BuildAsync(qa.Name, passages, config, models, new LineProgress(log, $"index {qa.Name}"), ct);
            var retriever = new Retriever(models.Encoder, store, store, rerank ? models.Reranker : null);
            var setOptions = options;
            if (set is not null && EvalConfig.DefinitionsSplit(qa.Split, qa.Name) == DefinitionSplit.Train)
            {
                // training material never shows a held-out entry, not even as a neighbour
                var trainDocuments = set.Corpus.Select(d => d.Id).Where(id => !Definitions.IsHeldOut(id)).ToHashSet(StringComparer.Ordinal);
                setOptions = options with { Filter = new SearchOptions { OnlyDocuments = trainDocuments } };
            }
            var firstStage = setOptions with { K = Math.Max(1, candidates), Candidates = Math.Max(candidates, options.Candidates), Rerank = false };
            var progress = new LineProgress(log, $"qa-data {qa.Name}");
            int hits = 0, count = 0;
            foreach (var q in questions)
            {
                ct.ThrowIfCancellationRequested();
                if (q.Unanswerable || q.Answers.Count == 0) continue;
                var result = await retriever.RetrieveAsync(q.Question, setOptions, ct);
                var neighbours = result.Neighbours;
                // the entry the neighbours answer with: the gold one, else the best-ranked entry of the same term
                string? gold = q.PassageId;
                string answer = q.Answers[0];
                if (set is not null && gold is not null && !neighbours.Any(n => n.Chunk.DocumentId == gold))
                {
                    var ofTerm = set.EntriesOfTerm[set.TermOfDocument[gold]];
                    var sibling = neighbours.Select(n => ofTerm.FirstOrDefault(e => e.Url == n.Chunk.DocumentId)).FirstOrDefault(e => e is not null);
                    if (sibling is not null) (gold, answer) = (sibling.Url, sibling.Answer);
                }
                bool hit = gold is not null && neighbours.Any(n => n.Chunk.DocumentId == gold);
                hits += hit ? 1 : 0;
                object[]? pool = null;
                if (candidates > 0)
                {
                    var first = setOptions.Rerank || setOptions.K < candidates ? (await retriever.RetrieveAsync(q.Question, firstStage, ct)).Neighbours : neighbours;
                    pool = [.. first.Take(candidates).Select(n => new { doc = n.Chunk.DocumentId, title = n.Chunk.Title, tokens = models.Tokenizer.Encode(n.Chunk.RetrievalText()) })];
                }
                var line = new
                {
                    dataset = qa.Name,
                    id = q.Id,
                    question = q.Question,
                    answer,
                    gold,
                    // every document that answers the question: the term's entries (definitions), else the gold passage
                    relevant_docs = set is not null && q.PassageId is not null
                        ? set.EntriesOfTerm[set.TermOfDocument[q.PassageId]].Select(e => e.Url).ToArray()
                        : gold is null ? [] : new[] { gold },
                    question_tokens = models.Tokenizer.Encode(q.Question),
                    answer_tokens = models.Tokenizer.Encode(" " + answer),
                    neighbours = neighbours.Select(n => n.Chunk.NeighbourTokens() is var t && t.Length > r ? t[..r] : n.Chunk.NeighbourTokens()).ToArray(),
                    neighbour_docs = neighbours.Select(n => n.Chunk.DocumentId).ToArray(),
                    hit,
                    candidates = pool,
                };
                output.WriteLine(JsonSerializer.Serialize(line));
                count++;
                written++;
                progress.Report($"{count}/{questions.Count} questions, gold passage among the neighbours {100.0 * hits / count:F1}%");
            }
            progress.Done($"{count} questions, gold passage among the neighbours {100.0 * hits / Math.Max(1, count):F1}% ({config.Search[0]}{(rerank ? " + rerank" : "")}, k = {k})");
        }
        return written;
    }
}
