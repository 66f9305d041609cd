using Retro.Core.Options;
using Retro.Eval.Data;

namespace Retro.Eval.Tests;

/// <summary>Definition questions from the sample corpus: the held-out rule, the answer extraction per source, determinism.</summary>
public sealed class DefinitionsTests
{
    private static readonly string Sample = Path.Combine(FindRoot(), "samples", "corpus", "sample.jsonl.gz");

    [Theory]
    [InlineData("foldoc:compiler", "compiler\n\n<programming, tool> A program that converts another program\nfrom some {source language} (or {programming language}) to\n{machine language} (object code).  Some compilers output\n{assembly language}.",
        "A program that converts another program from some source language (or programming language) to machine language (object code).")]
    [InlineData("foldoc:%23", "#\n\n1. <character> {hash character}.\n\n2. <programming> {hash}.", null)] // no letter in the headword
    [InlineData("foldoc:modem", "modem\n\n<hardware, communications> (Modulator/demodulator) An\nelectronic device for converting between serial data\n(typically {EIA-232}) from a computer and an audio signal.  In one scheme.",
        "(Modulator/demodulator) An electronic device for converting between serial data (typically EIA-232) from a computer and an audio signal.")]
    [InlineData("jargon:hacker", "hacker\n\nn.\n\n [originally, someone who makes furniture with an axe]\n\n 1. A person who enjoys exploring the details of programmable systems. RFC1392, the Internet Users' Glossary.",
        "A person who enjoys exploring the details of programmable systems.")]
    [InlineData("jargon:kluge", "kluge\n\n/klooj/\n\n [from the German ‘klug’, clever]\n\n 1. n. A Rube Goldberg (or Heath Robinson) device, whether in hardware or\n software.\n\n 2. n. A clever programming trick.",
        "A Rube Goldberg (or Heath Robinson) device, whether in hardware or software.")]
    [InlineData("wordnet:modeling", "modeling\n\n1. noun (also: mold, mould, molding, moulding, clay sculpture): sculpture produced by molding\n2. noun: a preliminary sculpture",
        "sculpture produced by molding")]
    [InlineData("wordnet:modest", "modest\n\n1. adjective: marked by simplicity; having a humble opinion of yourself; \"a modest apartment\"",
        "marked by simplicity")]
    [InlineData("wordnet:x", "x\n\n1. noun: ten", null)] // fewer than three words
    [InlineData("gcide:word", "word\n\nA sound or combination of sounds.", null)] // not a source of the set
    public void The_answer_is_the_first_definition_sentence(string url, string text, string? answer)
    {
        var entry = Definitions.FromDocument(url, text);
        entry?.Answer.ShouldBe(answer);
        if (answer is null) { entry.ShouldBeNull(); return; }
        entry!.Question.ShouldContain(text[..text.IndexOf('\n')]);
        Definitions.Forms.Select(f => string.Format(f, entry.Headword)).ShouldContain(entry.Question);
    }

    [Fact]
    public void Long_first_sentences_are_cut_at_a_clause_within_the_cap()
    {
        string words = string.Join(' ', Enumerable.Range(0, 30).Select(i => $"w{i}")) + ", then " + string.Join(' ', Enumerable.Range(0, 30).Select(i => $"v{i}")) + ".";
        string cut = Definitions.FirstSentence(words)!;
        cut.ShouldEndWith("w29");
        cut.Split(' ').Length.ShouldBe(30);
    }

    [Fact]
    public void Held_out_is_sha1_of_the_url_ending_in_zero()
    {
        // SHA-1("foldoc:compiler") and friends, computed independently (sha1sum)
        string Hex(string s) => Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData(System.Text.Encoding.UTF8.GetBytes(s)));
        foreach (var url in new[] { "foldoc:compiler", "jargon:hacker", "wordnet:modest", "foldoc:yacc", "a", "b", "c", "d", "e", "f", "g", "h" })
            Definitions.IsHeldOut(url).ShouldBe(Hex(url).EndsWith('0'), url);
    }

    [Fact]
    public void The_sample_corpus_splits_into_disjoint_deterministic_sets_with_answers_for_most_entries()
    {
        if (!File.Exists(Sample)) return; // the repository always has it; a trimmed checkout may not
        var set = Definitions.Read(Sample, DefinitionSplit.HeldOut, 0);
        var (held, corpus) = (set.Entries, set.Corpus);
        var train = Definitions.Read(Sample, DefinitionSplit.Train, 0).Entries;
        corpus.Count.ShouldBe(25_845);
        held.ShouldAllBe(e => Definitions.IsHeldOut(e.Url));
        train.ShouldAllBe(e => !Definitions.IsHeldOut(e.Url));
        // ~1/16 of the entries are held out; most entries of each source yield a question
        ((double)held.Count / (held.Count + train.Count)).ShouldBeInRange(0.05, 0.08);
        ((double)(held.Count + train.Count) / corpus.Count).ShouldBeGreaterThan(0.85);
        foreach (string source in Definitions.Sources) held.Count(e => e.Source == source).ShouldBeGreaterThan(50, source);
        held.ShouldAllBe(e => e.Answer.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length <= Definitions.MaxAnswerWords);
        var again = Definitions.Read(Sample, DefinitionSplit.HeldOut, 300).Entries;
        again.Count.ShouldBe(300);
        again.ShouldBe(Definitions.Read(Sample, DefinitionSplit.HeldOut, 300).Entries);
        again.Select(e => e.Url).Distinct().Count().ShouldBe(300);
        // a term's entries across dictionaries: every one is an answer to its question
        set.EntriesOfTerm["epsilon"].Select(e => e.Source).Distinct().ShouldBe(["foldoc", "jargon", "wordnet"], ignoreOrder: true);
        set.TermOfDocument["foldoc:epsilon"].ShouldBe("epsilon");
        Definitions.TermOf("  Modern_Ballet ").ShouldBe("modern ballet");
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Retro.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}

/// <summary>Candidate search names of an eval config.</summary>
public sealed class SearchSideTests
{
    [Fact]
    public void Hybrid_takes_an_optional_dense_weight()
    {
        Running.SearchSide.Options("hybrid")!.DenseWeight.ShouldBe(0.5f);
        var w = Running.SearchSide.Options("hybrid:0.7", new Retro.Core.Options.RetrievalOptions { K = 5 })!;
        (w.Mode, w.DenseWeight, w.Fusion, w.K).ShouldBe((Retro.Core.RetrievalMode.Hybrid, 0.7f, Retro.Core.FusionMethod.Rrf, 5));
        Running.SearchSide.Options("sparse")!.Mode.ShouldBe(Retro.Core.RetrievalMode.Sparse);
        var wk = Running.SearchSide.Options("hybrid:0.2:10")!;
        (wk.DenseWeight, wk.RrfK).ShouldBe((0.2f, 10));
        Running.SearchSide.Options("hybrid:0.2:0").ShouldBeNull();
        Running.SearchSide.Options("hybrid:1.5").ShouldBeNull();
        Running.SearchSide.Options("hybrid:x").ShouldBeNull();
        Running.SearchSide.Options("bm25").ShouldBeNull();
    }
}
