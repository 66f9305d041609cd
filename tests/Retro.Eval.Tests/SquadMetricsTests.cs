using Retro.Eval.Metrics;

namespace Retro.Eval.Tests;

public class SquadMetricsTests
{
    [Theory]
    [InlineData("The Cat", "cat")]
    [InlineData("  an   apple, a day! ", "apple day")]
    [InlineData("U.S.A.", "usa")]
    [InlineData("the theory", "theory")]            // "the" is removed only as a whole word
    [InlineData("Theatre", "theatre")]
    [InlineData("rock'n'roll", "rocknroll")]
    [InlineData("A", "")]
    [InlineData("café – résumé", "café – résumé")]   // only ASCII punctuation is removed, as in Python's string.punctuation
    [InlineData("tab\tand\nnewline", "tab and newline")]
    public void Normalize_follows_the_official_script(string text, string expected) => SquadMetrics.Normalize(text).ShouldBe(expected);

    [Fact]
    public void F1_counts_common_tokens_with_multiplicity()
    {
        // pred "the cat sat on the mat" -> [cat sat on mat]; gold "a cat on a mat mat" -> [cat on mat mat]
        // common = cat, on, mat = 3; P = 3/4, R = 3/4, F1 = 0.75
        SquadMetrics.F1("the cat sat on the mat", "a cat on a mat mat").ShouldBe(0.75, 1e-12);
        // pred [1776], gold [in 1776 philadelphia]: P = 1, R = 1/3 -> F1 = 0.5
        SquadMetrics.F1("1776", "in 1776, Philadelphia").ShouldBe(0.5, 1e-12);
        SquadMetrics.F1("dog", "cat").ShouldBe(0);
    }

    [Fact]
    public void Empty_answers_score_as_the_official_script()
    {
        SquadMetrics.F1("", "").ShouldBe(1);
        SquadMetrics.F1("the", "").ShouldBe(1);   // normalises to empty
        SquadMetrics.F1("", "Paris").ShouldBe(0);
        SquadMetrics.ExactMatch("", "").ShouldBe(1);
    }

    [Fact]
    public void Score_takes_the_best_gold_answer_and_treats_no_answers_as_empty()
    {
        var (em, f1) = SquadMetrics.Score("France", ["the French Republic", "France"]);
        em.ShouldBe(1);
        f1.ShouldBe(1);
        (em, f1) = SquadMetrics.Score("10th century", ["10th and 11th centuries", "in the 10th century"]);
        em.ShouldBe(0);
        f1.ShouldBe(0.8, 1e-12); // second gold: [in 10th century] vs [10th century]: P 1, R 2/3 -> 0.8
        SquadMetrics.Score("", []).ShouldBe((1.0, 1.0));           // unanswerable, abstained
        SquadMetrics.Score("Paris", []).ShouldBe((0.0, 0.0));      // unanswerable, answered
        SquadMetrics.Score("", ["The", "a"]).ShouldBe((1.0, 1.0)); // golds that normalise to nothing count as ""
    }
}
