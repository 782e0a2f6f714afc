; Inno Setup script: a per-user installer for the PyInstaller bundle (no administrator needed).
; Build on Windows after `pyinstaller packaging/llms-desktop.spec --distpath build/package/dist`:
;   iscc /DAppVersion=0.1.0 packaging\windows\llms-desktop.iss
; The release workflow (.github/workflows/release.yml) does both. Not run on Linux: untested here.

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=X.Y.Z llms-desktop.iss
#endif
#define AppName "llms-desktop"
#define BundleDir "..\..\build\package\dist\llms-desktop"

[Setup]
; Never change AppId: Windows finds the installed app (for upgrades and uninstall) by it.
AppId={{6F1E4C2A-8B3D-4E5F-9A7B-2C1D0E3F4A5B}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=llms-desktop developers
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per-user by default (Program Files only if the user picks "for all users").
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename={#AppName}-{#AppVersion}-windows-x64-setup
SetupIconFile=llms-desktop.ico
UninstallDisplayIcon={app}\llms-desktop.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the whole bundle: files a newer version no longer ships must not linger
; next to the new ones. User data is not here (%LOCALAPPDATA%\llms-desktop), so it stays.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\llms-desktop.exe"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\llms-desktop.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\llms-desktop.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
