"""What the company tells everyone about its processing: the public privacy notice
(privacy_page), built from the personal-data registry, the retention the DPO's
policies enforce, the sub-processor register and the settings that name the
controller and the DPO.

May import: agreements (the sub-processor register), rights (the registry walk and
retention texts), consent, platform."""
