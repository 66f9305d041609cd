namespace Retro.Benchmarks;

/// <summary>
/// A side-by-side benchmark run as <c>dotnet run -c Release --project tests/Retro.Benchmarks -- NAME [args]</c>.
/// It measures ours and a peer in the same run and ends with one line <c>NAME: ours=… peer=… ratio=…</c>.
/// Suites are found by reflection: add a class implementing this interface.
/// </summary>
public interface ISuite
{
    /// <summary>Sub-command name, e.g. <c>embed</c>.</summary>
    string Name { get; }

    /// <summary>One line for the usage text.</summary>
    string Description { get; }

    /// <summary>Runs the suite; returns the process exit code.</summary>
    int Run(string[] args);
}
