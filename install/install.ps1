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

function Find-Installed {
    if (Test-Path $VenvExe) { return $VenvExe }
    $cmd = Get-Command $Name -ErrorAction SilentlyContinue
    if ($cmd) { return $cmd.Source }
    return $null
}

if ($Uninstall) {
    $exe = Find-Installed
    if ($exe) {
        & $exe setup --undo
        if ($Purge) { & $exe logout --everything }
    }
    if (Test-Path $Venv) {
        Remove-Item -Recurse -Force $Venv
    } elseif ($UsePipx) {
        pipx uninstall $Name | Out-Null
    }
    if ($Purge) {
        Write-Output "git-credential-bbtoken is uninstalled and its stored tokens removed."
    } else {
        Write-Output "git-credential-bbtoken is uninstalled. Stored tokens were kept (use -Purge to remove them)."
    }
    exit 0
}

if ($UsePipx) {
    pipx install --force $Source
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
        & $python @pyArgs -m venv $Venv
    }
    & (Join-Path $Venv "Scripts\python.exe") -m pip install --quiet --disable-pip-version-check --upgrade $Source
    $exe = $VenvExe
}

# setup writes the helper's full path when its folder is not on PATH, so git finds it anyway.
& $exe setup
Write-Output ""
Write-Output ("Installed " + (& $exe --version))
Write-Output "Next: create an API token with scopes at https://id.atlassian.com/manage-profile/security/api-tokens"
Write-Output "      then run: git credential-bbtoken login https://bitbucket.org/WORKSPACE --email YOUR_EMAIL"
