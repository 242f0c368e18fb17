# Install git-credential-bbtoken into an isolated environment and wire it into git (Windows).
#
#   powershell -ExecutionPolicy Bypass -File install\install.ps1              install or upgrade
#   powershell -ExecutionPolicy Bypass -File install\install.ps1 -Uninstall   undo setup, remove it
#   ... -Uninstall -Purge                                                      and the stored tokens
#
# Uses pipx when present (set BBTOKEN_NO_PIPX=1 to skip it), else a private venv under
# %LOCALAPPDATA%\git-credential-bbtoken. Installs from the repository this script sits in, or
# from PyPI when run on its own (BBTOKEN_SOURCE overrides).
param(
    [switch]$Uninstall,
    [switch]$Purge
)
$ErrorActionPreference = "Stop"

$Name = "git-credential-bbtoken"
$Root = Split-Path -Parent $PSScriptRoot
if ($env:BBTOKEN_SOURCE) {
    $Source = $env:BBTOKEN_SOURCE
} elseif (Test-Path (Join-Path $Root "pyproject.toml")) {
    $Source = $Root
} else {
    $Source = $Name
}
$DataDir = Join-Path $env:LOCALAPPDATA $Name
$Venv = Join-Path $DataDir "venv"
$VenvExe = Join-Path $Venv "Scripts\$Name.exe"
$UsePipx = (-not $env:BBTOKEN_NO_PIPX) -and (Get-Command pipx -ErrorAction SilentlyContinue)

# $ErrorActionPreference does not stop on a native command's exit status (Windows PowerShell
# 5.1): every pip, pipx, venv and helper run goes through this.
function Invoke-Native {
    param([string]$What, [string]$Exe, [string[]]$Arguments = @())
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "install.ps1: $What failed (exit status $LASTEXITCODE)" }
}

function Find-Installed {
    if (Test-Path $VenvExe) { return $VenvExe }
    $cmd = Get-Command $Name -ErrorAction SilentlyContinue
    if ($cmd) { return $cmd.Source }
    return $null
}

if ($Uninstall) {
    $exe = Find-Installed
    if ($exe) {
        # Every URL setup wired in the global config (each left a bbtoken.<url>.setup marker),
        # as install.sh does. git exits 1 when there is none.
        $keys = @(git config --global --name-only --get-regexp '^bbtoken\..*\.setup$')
        foreach ($key in $keys) {
            $url = $key.Substring("bbtoken.".Length, $key.Length - "bbtoken.".Length - ".setup".Length)
            & $exe setup $url --undo
        }
        if ($Purge) { & $exe logout --everything }
    }
    if (Test-Path $Venv) {
        Remove-Item -Recurse -Force $Venv
    } elseif ($UsePipx) {
        pipx uninstall $Name | Out-Null
    }
    $global:LASTEXITCODE = 0
    if ($Purge) {
        Write-Output "git-credential-bbtoken is uninstalled and its stored tokens removed."
    } else {
        Write-Output "git-credential-bbtoken is uninstalled. Stored tokens were kept (use -Purge to remove them)."
    }
    exit 0
}

if ($UsePipx) {
    Invoke-Native "pipx install" "pipx" @("install", "--force", $Source)
    $exe = (Get-Command $Name -ErrorAction SilentlyContinue).Source
    if (-not $exe) { $exe = Join-Path $env:USERPROFILE ".local\bin\$Name.exe" }
} else {
    $python = $null
    foreach ($candidate in @("py", "python", "python3")) {
        if (Get-Command $candidate -ErrorAction SilentlyContinue) { $python = $candidate; break }
    }
    if (-not $python) { throw "Python 3.9 or newer is needed (python was not found)" }
    $pyArgs = @()
    if ($python -eq "py") { $pyArgs = @("-3") }
    & $python @pyArgs -c "import sys; sys.exit(sys.version_info < (3, 9))"
    if ($LASTEXITCODE -ne 0) { throw "Python 3.9 or newer is needed" }
    New-Item -ItemType Directory -Force -Path $DataDir | Out-Null
    if (-not (Test-Path (Join-Path $Venv "Scripts\python.exe"))) {
        Invoke-Native "creating the venv" $python ($pyArgs + @("-m", "venv", $Venv))
    }
    $venvPython = Join-Path $Venv "Scripts\python.exe"
    # pip 25 and newer write console scripts that do not import `re` (as install.sh does).
    & $venvPython -m pip install --quiet --disable-pip-version-check --upgrade pip
    if ($LASTEXITCODE -ne 0) { Write-Warning "could not upgrade pip; the helper works, each fetch only pays ~10 ms more" }
    Invoke-Native "pip install" $venvPython @("-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", $Source)
    $exe = $VenvExe
}

# setup writes the helper's full path when its folder is not on PATH, so git finds it anyway.
Invoke-Native "git credential-bbtoken setup" $exe @("setup")
Write-Output ""
Write-Output ("Installed " + (& $exe --version))
Write-Output "Next: create an API token with scopes at https://id.atlassian.com/manage-profile/security/api-tokens"
Write-Output "      then run: git credential-bbtoken login https://bitbucket.org/WORKSPACE --email YOUR_EMAIL"
