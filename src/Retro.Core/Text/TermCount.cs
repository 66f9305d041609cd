namespace Retro.Core.Text;

/// <summary>A term id (<see cref="TextAnalyzer.TermId"/>) and how often it occurs.</summary>
public readonly record struct TermCount(uint Term, int Count);
