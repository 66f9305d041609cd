namespace Retro.Api.Infrastructure;

/// <summary>
/// Resolves the relative paths of configuration (models, store, sample corpus) against the repository root: the nearest
/// folder at or above the content root that holds <c>appsettings.json</c>, else the content root.
/// </summary>
internal sealed class RepositoryPaths
{
    public RepositoryPaths(string contentRoot)
    {
        Root = contentRoot;
        for (var dir = new DirectoryInfo(contentRoot); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "appsettings.json")))
            {
                Root = dir.FullName;
                break;
            }
        }
    }

    /// <summary>The folder relative paths start from.</summary>
    public string Root { get; }

    /// <summary>An absolute path for <paramref name="path"/> (absolute paths are returned as they are).</summary>
    public string Resolve(string path) => Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(Root, path));
}
