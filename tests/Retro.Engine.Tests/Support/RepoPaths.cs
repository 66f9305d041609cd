namespace Retro.Engine.Tests.Support;

/// <summary>Paths inside the repository, found by walking up from the test binaries to <c>Retro.sln</c>.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Fixture(string name) => Path.Combine(Root, "tests", "fixtures", name);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Retro.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no Retro.sln above {AppContext.BaseDirectory}");
    }
}
